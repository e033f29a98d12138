"""Timing one training step on any device: warm up, synchronise, time ``steps`` calls (shared by the
benchmark scripts; run them as ``python benchmarks/<name>.py``, which puts this folder on the path)."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


def seconds_per_step(step: Callable[[], None], steps: int, warmup: int, device: torch.device, *,
                     reset_peak_after_warmup: bool = False) -> float:
    """Mean wall-clock seconds of ``step()`` over ``steps`` calls after ``warmup`` calls, CUDA-synchronised;
    ``reset_peak_after_warmup`` restarts CUDA's peak-memory count once warm."""
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        if reset_peak_after_warmup:
            torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps
