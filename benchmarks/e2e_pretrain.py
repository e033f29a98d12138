"""End-to-end pretraining speed from JPEG files next to the same step on synthetic tensors, and the peak
memory of a large model with activation checkpointing.

Both speed figures run the same training loop (:func:`colormae.train.engine.fit`: same model, masks,
AdamW, amp, ``torch.compile``), on the same device, in the same process:

- ``jpeg``: the pretraining data path (:func:`colormae.pretrain.data.build_pretrain_data`) over a
  folder of ``--images`` generated JPEGs of about 500 x 375 (quality 90), ``--backend gpu`` by default
  (workers read bytes, the device decodes and augments), ``--workers`` (default automatic);
- ``synthetic``: one batch of random images already on the device, fed again and again.

img/s is read from the engine's own metrics (``metrics.jsonl``: images per second of each logging
interval, data waits included); the median over the intervals after ``--warmup`` steps (compilation) is
kept. Then ``--memory-model`` (default ViT-L/16) trains ``--memory-steps`` steps at ``--memory-batch``
(default 256) with activation checkpointing, and without unless ``--no-baseline``, and prints the peak
memory the engine logs (``torch.cuda.max_memory_allocated``).

    python benchmarks/e2e_pretrain.py --device cuda         # ViT-B/16, green, bf16, compile, batch 256
    python benchmarks/e2e_pretrain.py --device cpu --model mae_vit_micro_32px --batch-size 8 \\
        --images 64 --steps 6 --warmup 2 --log-every 2 --amp none --no-compile \\
        --memory-model mae_vit_micro_32px --memory-batch 8 --memory-steps 2    # a CPU smoke run

Last lines: ``e2e: jpeg X img/s, synthetic Y img/s, ratio R`` and ``memory: ... peak P GiB ...``.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loader import write_jpegs  # noqa: E402  (benchmarks/loader.py: the same generated photos)

from colormae.data import build_dataset
from colormae.masking import build_masking, draw_masks  # noqa: E402
from colormae.models import create_mae  # noqa: E402
from colormae.pretrain.data import build_pretrain_data  # noqa: E402
from colormae.train.engine import fit  # noqa: E402
from colormae.train.optim import build_adamw  # noqa: E402
from colormae.train.schedule import WarmupCosine  # noqa: E402
from colormae.train.threads import available_cores  # noqa: E402


class Repeat:
    """A "loader" that yields the same batch ``length`` times per epoch (synthetic data on the device)."""

    def __init__(self, batch: tuple[torch.Tensor, torch.Tensor], length: int) -> None:
        self.batch, self.length = batch, length

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        return iter([self.batch] * self.length)


def generate(root: Path, count: int) -> None:
    """``count`` JPEGs in parallel (one chunk per CPU)."""
    chunks = max(1, min(available_cores(), count // 16))
    with ProcessPoolExecutor(chunks) as pool:
        list(pool.map(_write_chunk, [(root, count, k, chunks) for k in range(chunks)]))


def _write_chunk(job: tuple[Path, int, int, int]) -> None:
    root, count, k, chunks = job
    write_jpegs(root / f"part{k}", count=len(range(k, count, chunks)), seed=k)


@functools.cache
def masking(name: str, bank_size: int) -> Any:
    """One masking strategy (and its bank) for every run."""
    return build_masking(name, 0.75, bank_size=bank_size, seed=0)


def train(args: argparse.Namespace, model_name: str, batch_size: int, steps: int, out: Path, *,
          data: Path | None, grad_checkpointing: bool = False,
          compile_: bool = False) -> list[dict[str, Any]]:
    """Pretrain ``steps`` steps with the engine and return its metrics records."""
    dev = torch.device(args.device)
    torch.manual_seed(0)
    net = create_mae(model_name).to(dev)
    net.set_grad_checkpointing(grad_checkpointing)
    if data is not None:
        dataset = build_dataset(str(data), split="train")
        source = build_pretrain_data(dataset, net.config.img_size, backend=args.backend,
                                     batch_size=batch_size,
                                     seed=0, num_workers=args.workers, device=dev)
        loader, images_of = source.loader, source.images
    else:
        size = net.config.img_size
        images = torch.randn(batch_size, 3, size, size, device=dev)
        loader, images_of = Repeat((images, torch.zeros(batch_size)), steps), (lambda batch: batch[0])
    strategy = masking(args.masking, args.bank_size)
    mask_gen = torch.Generator(device=dev).manual_seed(0)
    grid = net.grid

    def step_fn(m: torch.nn.Module, batch: Any, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        x = images_of(batch)
        masks = draw_masks(strategy, x.shape[0], grid, generator=mask_gen, device=dev)
        return m(x, masks.mask, masks.ids_keep).loss, {}

    optimizer = build_adamw(net, 1.5e-4 * batch_size / 256)
    schedule = WarmupCosine(1.5e-4, steps // 4, steps)
    fit(net, loader, step_fn, optimizer, schedule, epochs=10**6, max_steps=steps,  # the step cap ends it
        amp=args.amp, compile=compile_, device=dev, out_dir=out, ckpt_every=0, log_every=args.log_every,
        progress=False, resume=None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    torch._dynamo.reset()
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def speed(records: list[dict[str, Any]], warmup: int, log_every: int) -> float:
    """Median images per second of the logging intervals that start at or after step ``warmup``."""
    kept = [r["img_per_s"] for r in records if r["step"] - log_every >= warmup]
    if not kept:
        raise SystemExit(f"no logging interval after {warmup} warm-up steps: raise --steps")
    return statistics.median(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--model", default="mae_vit_base_patch16")
    parser.add_argument("--masking", default="green")
    parser.add_argument("--bank-size", type=int, default=3072)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--images", type=int, default=4096, help="generated JPEGs")
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--warmup", type=int, default=30, help="steps left out of the speed (compilation)")
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--backend", choices=("cpu", "gpu"), default="gpu")
    parser.add_argument("--workers", type=int, default=None, help="loader workers (default automatic)")
    parser.add_argument("--amp", default="bf16")
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument("--memory-model", default="mae_vit_large_patch16")
    parser.add_argument("--memory-batch", type=int, default=256)
    parser.add_argument("--memory-steps", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true", help="no memory run without checkpointing")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generate(work / "jpegs", args.images)
        print(f"{args.images} JPEGs; {args.model} {args.masking} batch {args.batch_size}, amp {args.amp}, "
              f"compile {args.compile}, {args.backend} data path, workers {args.workers or 'auto'}, "
              f"{args.device}", flush=True)
        jpeg = speed(train(args, args.model, args.batch_size, args.steps, work / "jpeg", data=work / "jpegs",
                           compile_=args.compile), args.warmup, args.log_every)
        synthetic = speed(train(args, args.model, args.batch_size, args.steps, work / "synthetic", data=None,
                                compile_=args.compile), args.warmup, args.log_every)
        print(f"e2e: jpeg {jpeg:.0f} img/s, synthetic {synthetic:.0f} img/s, ratio {jpeg / synthetic:.2f}",
              flush=True)
        if args.skip_memory:
            return
        runs = [True] if args.no_baseline else [True, False]
        peaks = {}
        for ckpt in runs:
            try:
                records = train(args, args.memory_model, args.memory_batch, args.memory_steps,
                                work / f"memory-{ckpt}", data=None, grad_checkpointing=ckpt)
                peaks[ckpt] = f"{max(r['peak_mem_mb'] for r in records) / 1024:.1f} GiB"
            except torch.OutOfMemoryError:
                peaks[ckpt] = "out of memory"
        without = f" (without: {peaks[False]})" if False in peaks else ""
        print(f"memory: {args.memory_model} batch {args.memory_batch} amp {args.amp} grad checkpointing: "
              f"peak {peaks[True]}{without}")


if __name__ == "__main__":
    main()
