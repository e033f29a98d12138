"""Pretraining step speed and memory: our MAE vs Hugging Face ``ViTMAEForPreTraining``.

Both models hold the same weights (converted with ``colormae.convert.hf_vitmae``), see the same images and
the same masks (``noise=to_hf_noise(mask)`` for HF) and take the same AdamW step (0.9, 0.95, wd 0.05).
A "step" is forward + backward + optimizer step; img/s = batch / median step time.

CPU (default): ViT-B/16 at 224 px, batch 16 (3 warm-up + 5 timed steps) and the CPU demo preset
``mae_vit_tiny_32px`` at batch 64 (5 + 20). The two models' steps are interleaved (alternating which goes
first) so that load from other processes hits both alike; img/s uses the median step, and the best
step is printed too. Peak memory on CPU is the growth of the
process's peak RSS (``resource.getrusage``) over 2 training steps, measured in a fresh process per model:
activations + gradients + AdamW state + allocator slack, not a tensor-exact figure.

CUDA (``--device cuda``): ViT-B/16, bf16 autocast, batch 256, synthetic data on the device, fused AdamW;
one model at a time, peak memory = ``torch.cuda.max_memory_allocated`` during its steps.
``--compile`` wraps both models in ``torch.compile``.

    python benchmarks/pretrain.py                     # CPU, both configs (a few minutes on 2 cores)
    python benchmarks/pretrain.py --configs demo      # only the demo preset
    python benchmarks/pretrain.py --device cuda       # GPU, ViT-B/16 bf16 batch 256
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from colormae.convert.hf_vitmae import to_hf_model
from colormae.masking import RandomMasking, to_hf_noise
from colormae.models import create_mae


@dataclass
class Case:
    """One benchmark configuration."""

    name: str
    preset: str
    batch: int
    warmup: int
    iters: int


CPU_CASES = {
    "base224": Case("ViT-B/16 224px", "mae_vit_base_patch16", 16, 3, 5),
    "demo": Case("demo (mae_vit_tiny_32px)", "mae_vit_tiny_32px", 64, 5, 20),
}
CUDA_CASES = {"base224": Case("ViT-B/16 224px bf16", "mae_vit_base_patch16", 256, 5, 20)}
RATIO = 0.75


def build(which: str, preset: str, device: torch.device, compile_: bool) -> tuple[torch.nn.Module, Callable]:
    """``(model, step(images, mask))`` for ``which`` in ("ours", "hf")."""
    torch.manual_seed(0)
    ours = create_mae(preset)
    model = ours if which == "ours" else to_hf_model(ours, mask_ratio=RATIO)
    model = model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05,
                            fused=device.type == "cuda")
    fwd = torch.compile(model) if compile_ else model
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if device.type == "cuda" else (
        contextlib.nullcontext)

    def step(images: torch.Tensor, mask: torch.Tensor) -> float:
        with autocast():
            if which == "ours":
                loss = fwd(images, mask).loss
            else:
                loss = fwd(pixel_values=images, noise=to_hf_noise(mask)).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return model, step


def inputs(case: Case, device: torch.device, n: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Synthetic images ``(B, 3, H, W)`` and ``n`` masks (the same for both models)."""
    cfg = create_mae(case.preset).config if case.preset.endswith("32px") else None
    size = cfg.img_size if cfg else 224
    grid = cfg.grid if cfg else (14, 14)
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(case.batch, 3, size, size, generator=gen).to(device)
    masking = RandomMasking(RATIO)
    return images, [masking(case.batch, grid, generator=gen).to(device) for _ in range(n)]


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))


def cpu_peak_rss_mb(which: str, preset: str, batch: int, threads: int) -> float:
    """Peak-RSS growth (MB) over 2 training steps in this (fresh) process; see the module docstring.

    On Linux the peak (VmHWM) is first reset to the current RSS (``/proc/self/clear_refs``, value 5), so
    building the models does not hide the training peak; elsewhere ``ru_maxrss`` is used as is.
    """
    torch.set_num_threads(threads)
    case = Case("", preset, batch, 0, 0)
    _, step = build(which, preset, torch.device("cpu"), False)
    images, masks = inputs(case, torch.device("cpu"), 2)
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        before = _status_kib("VmRSS")
        for mask in masks:
            step(images, mask)
        return (_status_kib("VmHWM") - before) / 1024.0
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for mask in masks:
            step(images, mask)
        return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024.0  # Linux: KiB


def run_cpu(case: Case, threads: int, with_memory: bool) -> dict[str, dict[str, float]]:
    device = torch.device("cpu")
    models = {w: build(w, case.preset, device, False) for w in ("ours", "hf")}
    images, masks = inputs(case, device, case.warmup + case.iters)
    times: dict[str, list[float]] = {"ours": [], "hf": []}
    for i, mask in enumerate(masks):
        order = ("ours", "hf") if i % 2 == 0 else ("hf", "ours")
        for which in order:
            start = time.perf_counter()
            models[which][1](images, mask)
            if i >= case.warmup:
                times[which].append(time.perf_counter() - start)
    # Median and best step: on a shared machine noise only adds time, so the best step is the steadier
    # estimate of the intrinsic cost; both are printed.
    out = {w: {"img_s": case.batch / statistics.median(t), "best_img_s": case.batch / min(t)}
           for w, t in times.items()}
    if with_memory:
        ctx = mp.get_context("spawn")
        with ctx.Pool(1, maxtasksperchild=1) as pool:
            for which in ("ours", "hf"):
                out[which]["mem_mb"] = pool.apply(cpu_peak_rss_mb, (which, case.preset, case.batch, threads))
    return out


def run_cuda(case: Case, compile_: bool) -> dict[str, dict[str, float]]:
    device = torch.device("cuda")
    images, masks = inputs(case, device, case.warmup + case.iters)
    out = {}
    for which in ("ours", "hf"):
        model, step = build(which, case.preset, device, compile_)
        torch.cuda.synchronize()
        for mask in masks[: case.warmup]:
            step(images, mask)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for mask in masks[case.warmup :]:
            step(images, mask)
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        out[which] = {"img_s": case.batch * case.iters / elapsed,
                      "mem_mb": torch.cuda.max_memory_allocated() / 2**20}
        del model, step
        torch.cuda.empty_cache()
    return out


def report(case: Case, result: dict[str, dict[str, float]], mem_label: str) -> None:
    ours, hf = result["ours"], result["hf"]
    print(f"\n{case.name}, batch {case.batch}, mask ratio {RATIO}, {case.iters} timed steps")
    for label, r in (("colormae", ours), ("HF ViTMAE", hf)):
        mem = f"   {mem_label} {r['mem_mb']:8.0f} MB" if "mem_mb" in r else ""
        best = f" (best step {r['best_img_s']:.1f})" if "best_img_s" in r else ""
        print(f"  {label:<10} {r['img_s']:9.1f} img/s{best}{mem}")
    line = f"  ratio colormae / HF: speed {ours['img_s'] / hf['img_s']:.2f}x"
    if "best_img_s" in ours:
        line += f" (best step {ours['best_img_s'] / hf['best_img_s']:.2f}x)"
    if ours.get("mem_mb") and hf.get("mem_mb"):
        line += f", memory {ours['mem_mb'] / hf['mem_mb']:.2f}x"
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--configs", nargs="+", choices=("base224", "demo"), default=None,
                        help="which configurations (default: both on CPU, base224 on CUDA)")
    parser.add_argument("--batch", type=int, default=None, help="override the batch size")
    parser.add_argument("--iters", type=int, default=None, help="override the number of timed steps")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--no-memory", action="store_true", help="CPU: skip the peak-RSS subprocesses")
    parser.add_argument("--compile", action="store_true", help="torch.compile both models (CUDA)")
    args = parser.parse_args(argv)

    cases = CUDA_CASES if args.device == "cuda" else CPU_CASES
    names = args.configs or list(cases)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            print("error: CUDA is not available", file=sys.stderr)
            return 2
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, compile={args.compile}")
    else:
        torch.set_num_threads(args.threads)
        print(f"device: CPU, {args.threads} threads, torch {torch.__version__}")
    for name in names:
        if name not in cases:
            print(f"skipping {name}: not a {args.device} configuration")
            continue
        case = cases[name]
        if args.batch:
            case.batch = args.batch
        if args.iters:
            case.iters = args.iters
        if args.device == "cuda":
            report(case, run_cuda(case, args.compile), "peak allocated")
        else:
            report(case, run_cpu(case, args.threads, not args.no_memory), "peak RSS growth")
    return 0


if __name__ == "__main__":
    sys.exit(main())
