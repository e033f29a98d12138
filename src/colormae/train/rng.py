"""Capture and restore every random stream a run uses, as tensors / ints only (``weights_only`` safe).

Streams: torch CPU, CUDA (current device, when initialised), numpy's global state, python ``random``,
and named :class:`torch.Generator` objects (e.g. the mask generator).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch


def capture_rng(generators: dict[str, torch.Generator] | None = None) -> dict[str, Any]:
    """A snapshot of all random streams of this process (tensors, ints, lists)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": version, "state": list(py_state), "gauss_next": py_gauss},
        "generators": {name: g.get_state() for name, g in (generators or {}).items()},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng(state: dict[str, Any], generators: dict[str, torch.Generator] | None = None) -> None:
    """Put back a :func:`capture_rng` snapshot (generators are matched by name)."""
    torch.set_rng_state(state["torch"].cpu())
    npst = state["numpy"]
    np.random.set_state((npst["kind"], npst["keys"].numpy().astype(np.uint32), npst["pos"],
                         npst["has_gauss"], npst["cached_gaussian"]))
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())
    for name, gen in (generators or {}).items():
        if name in state["generators"]:
            gen.set_state(state["generators"][name].cpu())


@contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Run a block with torch-CPU, numpy and python RNGs seeded by ``seed``, then restore them.

    Used to make data augmentation a pure function of (seed, epoch, index), whatever the process.
    """
    saved_torch = torch.get_rng_state()
    saved_np = np.random.get_state()
    saved_py = random.getstate()
    torch.default_generator.manual_seed(seed)  # CPU only: torch.manual_seed also queues CUDA seeding (slow)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    try:
        yield
    finally:
        torch.set_rng_state(saved_torch)
        np.random.set_state(saved_np)
        random.setstate(saved_py)
