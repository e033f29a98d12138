"""``colormae plan``: what a pretraining run will cost on this machine, measured before it starts.

:func:`plan_pretraining` runs the real job (:func:`colormae.pretrain.run.pretrain`: the same model, data path,
masking, loop and amp) for a few steps into a temporary folder that is deleted afterwards, so nothing is
written to the config's run folder. The engine keeps each step's start time and the seconds it waited for
its batches (:attr:`colormae.train.loop.FitResult.step_clock`); logging every step makes each step end with a
host sync, so the times are those of the device, not of the launch queue. From them:

* per-step time (mean over the timed steps after the warm-up), split into data loading (waiting for the
  loader) and compute (the rest), images per second;
* peak memory: CUDA max allocated, or on the CPU the process's peak resident set (``VmHWM``);
* steps per epoch and in all (:func:`colormae.train.plan.run_length`), and the estimated wall time:
  start-up (from the process's start to the first step) + steps x step time + checkpoints x the time of
  one checkpoint write;
* the largest batch per device that fits (:func:`largest_batch`) and the ``accum_steps`` that keeps the
  config's effective batch with it.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from colormae.errors import UserError
from colormae.jobs.plan import CPU_RULE, PlanOptions
from colormae.jobs.pretrain import PretrainConfig
from colormae.train.plan import effective_batch, run_length

#: Fraction of the available memory a planned batch may fill (CPU rule; CUDA probes really allocate).
MEMORY_HEADROOM = 0.9
#: What the plan says of a largest batch that reached ``--max-batch``.
CAPPED = "the --max-batch cap"


def _trial(cfg: PretrainConfig, out: Path, steps: int) -> PretrainConfig:
    """The config of the timed run: ``cfg`` for ``steps`` steps into ``out``, logging (and so syncing) every
    step, one checkpoint at the end, no resume, no bar."""
    return dataclasses.replace(cfg, out=str(out), resume=None, max_steps=steps, log_every=1, ckpt_every=0,
                               keep_last=1, progress=False)


def _rss_mib(field: str = "VmRSS") -> float | None:
    """This process's resident set (``VmRSS``) or its peak (``VmHWM``) in MiB, from /proc (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak(device: torch.device) -> bool:
    """Reset the peak memory counter (CUDA's, or the process's ``VmHWM`` via /proc/self/clear_refs)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return True
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    from colormae.train.metrics import peak_memory_mb

    return _rss_mib("VmHWM") or peak_memory_mb(device)


def _process_age() -> float:
    """Seconds since this process started (Linux: /proc; elsewhere 0): the interpreter and imports, which a
    real run pays too before its first step."""
    import os

    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime, in clock ticks
        return max(0.0, float(Path("/proc/uptime").read_text().split()[0]) - start)
    except (OSError, ValueError, IndexError):
        return 0.0


def _available_mib() -> float | None:
    """``MemAvailable`` of /proc/meminfo in MiB (Linux), else None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def time_steps(cfg: PretrainConfig, device: torch.device, options: PlanOptions) -> dict[str, Any]:
    """Run ``cfg`` for ``warmup + steps + 1`` steps in a temporary folder and time them; returns the numbers
    (``step_s``, ``data_s``, ``compute_s``, ``setup_s``, ``checkpoint_s``, ``peak_mem_mb``, ...) and, under
    ``"model"``, the trained model (for :func:`largest_batch`)."""
    from colormae.pretrain.run import pretrain

    n = options.warmup + options.steps + 1  # the last step's start closes the last timed one
    with tempfile.TemporaryDirectory(prefix="colormae-plan-") as tmp:
        _reset_peak(device)
        start = time.perf_counter() - _process_age()  # a run's start-up begins with its process
        result = pretrain(_trial(cfg, Path(tmp) / "run", n))
        end = time.perf_counter()
    clock = result.step_clock
    if len(clock) < 2:
        raise UserError(f"plan: the run gave {len(clock)} step(s); it needs at least 2 to time one")
    starts = [c[0] for c in clock]
    first = min(options.warmup, len(clock) - 2)
    durations = [b - a for a, b in zip(starts[first:-1], starts[first + 1:], strict=True)]
    waits = [c[1] for c in clock[first:-1]]
    step_s, data_s = sum(durations) / len(durations), sum(waits) / len(waits)
    images = cfg.batch_size * cfg.accum_steps
    return {"steps_timed": len(durations), "step_s": step_s, "data_s": data_s,
            "compute_s": max(0.0, step_s - data_s), "images_per_s": images / step_s,
            "setup_s": starts[0] - start, "checkpoint_s": max(0.0, end - starts[-1] - step_s),
            "peak_mem_mb": _peak_mib(device), "steps_per_epoch": result.steps_per_epoch,
            "model": result.model}


def _probe(model: torch.nn.Module, batch: int, cfg: PretrainConfig, device: torch.device) -> float | None:
    """Peak memory (MiB) of one training step of ``model`` on a random batch of ``batch`` images under the
    config's masking ratio and amp, or None if it does not fit (CUDA out of memory)."""
    from colormae.masking import build_masking, draw_masks
    from colormae.train.optim import build_adamw
    from colormae.train.settings import resolve_amp

    h, w = model.config.image_hw
    amp = resolve_amp(cfg.amp, device.type)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    optimizer = build_adamw(model, 1e-12)
    _reset_peak(device)
    try:
        images = torch.randn(batch, model.config.in_chans, h, w, device=device)
        masks = draw_masks(build_masking("random", cfg.mask_ratio), batch, model.grid, device=device)
        with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            loss = model(images, masks.mask, masks.ids_keep).loss
        loss.backward()
        optimizer.step()
        peak = _peak_mib(device)
    except torch.OutOfMemoryError:
        peak = None
    optimizer.zero_grad(set_to_none=True)
    del optimizer
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return peak


def largest_batch(model: torch.nn.Module, cfg: PretrainConfig, device: torch.device, max_batch: int
                  ) -> tuple[int | None, str]:
    """``(largest batch per device that fits, how it was found)``.

    CUDA: real training steps on random images, doubling from ``cfg.batch_size`` until one runs out of
    memory (or ``max_batch``), then bisecting (at most 16 probes). CPU: :data:`CPU_RULE`.
    """
    model.train()
    if device.type == "cuda":
        return _search(lambda b: _probe(model, b, cfg, device) is not None, cfg.batch_size, max_batch), \
            "CUDA: largest batch whose training step ran (doubling, then bisection)"
    big = max(2, cfg.batch_size)
    if not _reset_peak(device):
        return None, "CPU: the peak RSS cannot be reset here (/proc/self/clear_refs), no estimate"
    small_peak, big_peak = _probe(model, big // 2, cfg, device), _probe(model, big, cfg, device)
    available, rss = _available_mib(), _rss_mib()
    if small_peak is None or big_peak is None or available is None or rss is None:
        return None, "CPU: memory figures unavailable"
    per_image = max((big_peak - small_peak) / (big - big // 2), 1e-3)
    base = big_peak - big * per_image
    fits = int((MEMORY_HEADROOM * (available + rss) - base) // per_image)
    return min(max(fits, 0), max_batch), f"{CPU_RULE}: {per_image:.2f} MiB per image, base {base:.0f} MiB"


def _search(fits: Any, start: int, limit: int, probes: int = 16, resolution: int = 64) -> int | None:
    """The largest ``b <= limit`` with ``fits(b)``, to within ``1 / resolution`` of it: doubling from
    ``start`` (or halving when it does not fit), then bisection, at most ``probes`` calls; None if 1 does
    not fit."""
    good, bad = 0, limit + 1
    b = min(start, limit)
    while probes > 0 and bad - good > max(1, good // resolution):
        probes -= 1
        if fits(b):
            good = b
            b = min(b * 2, limit) if bad > limit else (good + bad) // 2
            if b == good:
                break
        else:
            bad = b
            b = max(1, b // 2) if good == 0 else (good + bad) // 2
    return good or None


def keep_effective(effective: int, largest: int | None) -> dict[str, int] | None:
    """``{"batch_size", "accum_steps"}``: the fewest accumulation steps whose batch (``effective`` divided
    by them, exactly) is at most ``largest``; None when none does."""
    if not largest:
        return None
    for accum in range(1, effective + 1):
        if effective % accum == 0 and effective // accum <= largest:
            return {"batch_size": effective // accum, "accum_steps": accum}
    return None


def plan_pretraining(cfg: PretrainConfig, options: PlanOptions | None = None) -> dict[str, Any]:
    """Measure ``cfg`` on this machine (see the module docstring); returns the plan as a JSON-able dict."""
    from colormae.pretrain.run import CKPT_EVERY
    from colormae.train.distributed import init_distributed

    options = options or PlanOptions()
    if options.steps < 1 or options.warmup < 0:
        raise UserError(f"plan: --steps must be >= 1 and --warmup >= 0, got {options.steps}, "
                        f"{options.warmup}")
    info, device = init_distributed(cfg.device)
    if info.distributed:
        raise UserError("plan: run it as one process (not under torchrun); it plans per device")
    timed = time_steps(cfg, device, options)
    model = timed.pop("model")
    per_epoch, total = run_length(timed["steps_per_epoch"], epochs=cfg.epochs, max_steps=cfg.max_steps)
    every = cfg.ckpt_every if cfg.ckpt_every is not None else CKPT_EVERY
    checkpoints = (total // every if every else 0) + 1
    wall = timed["setup_s"] + total * timed["step_s"] + checkpoints * timed["checkpoint_s"]
    largest, rule = largest_batch(model, cfg, device, options.max_batch) if options.search else (None, "")
    if largest is not None and largest >= options.max_batch:
        rule += f"; {CAPPED} ({options.max_batch}): more may fit"
    effective = effective_batch(cfg, 1)
    return {"model": cfg.model, "data": cfg.data, "device": str(device), "amp": cfg.amp,
            "batch_size": cfg.batch_size, "accum_steps": cfg.accum_steps, "effective_batch": effective,
            **{k: timed[k] for k in ("steps_timed", "step_s", "data_s", "compute_s", "images_per_s")},
            "peak_mem_mb": timed["peak_mem_mb"],
            "peak_mem_kind": "cuda_max_allocated" if device.type == "cuda" else "cpu_rss",
            "steps_per_epoch": per_epoch, "total_steps": total, "setup_s": timed["setup_s"],
            "checkpoint_s": timed["checkpoint_s"], "checkpoints": checkpoints, "estimated_wall_s": wall,
            "largest_batch": largest, "largest_batch_rule": rule, "keeps_effective": keep_effective(
                effective, largest)}


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}h {rest // 60:02d}m {rest % 60:02d}s" if h else f"{rest // 60}m {rest % 60:02d}s"


def plan_lines(plan: dict[str, Any]) -> list[str]:
    """The plan as the lines ``colormae plan`` prints."""
    memory = "CUDA max allocated" if plan["peak_mem_kind"] == "cuda_max_allocated" else "CPU peak RSS"
    lines = [
        f"plan: {plan['model']} on {plan['data']}, {plan['device']}, batch {plan['batch_size']} x accum "
        f"{plan['accum_steps']} (effective {plan['effective_batch']}), amp {plan['amp']}",
        f"  step: {plan['step_s']:.3f} s (data {plan['data_s']:.3f} s, compute {plan['compute_s']:.3f} s), "
        f"{plan['images_per_s']:.1f} images/s over {plan['steps_timed']} timed steps",
        f"  peak memory: {plan['peak_mem_mb']:.0f} MiB ({memory})",
        f"  run: {plan['total_steps']} steps ({plan['steps_per_epoch']}/epoch); start-up "
        f"{plan['setup_s']:.1f} s, {plan['checkpoints']} checkpoint(s) of {plan['checkpoint_s']:.2f} s",
        f"  estimated wall time: {_duration(plan['estimated_wall_s'])} ({plan['estimated_wall_s']:.0f} s)",
    ]
    if plan["largest_batch"] is not None:
        keep = plan["keeps_effective"]
        kept = (f"; batch_size={keep['batch_size']} accum_steps={keep['accum_steps']} keeps the effective "
                "batch" if keep else "")
        capped = f" ({CAPPED})" if CAPPED in plan["largest_batch_rule"] else ""
        lines.append(f"  largest batch that fits: {plan['largest_batch']}{capped}{kept}")
    elif plan["largest_batch_rule"]:
        lines.append(f"  largest batch: unknown ({plan['largest_batch_rule']})")
    return lines


def as_json(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan with floats rounded for printing as JSON."""
    return {k: round(v, 4) if isinstance(v, float) and math.isfinite(v) else v for k, v in plan.items()}
