"""Checkpoints: atomic writes, keep-last-K, and loading a model back from a file or a run directory.

A checkpoint is a plain ``dict`` saved with :func:`torch.save` whose values are tensors, numbers,
strings, lists and dicts only, so it loads with ``torch.load(weights_only=True)`` (never unpickling
arbitrary objects). See ``docs/architecture.md`` for its keys.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

from colormae.errors import UserError

FORMAT = "colormae/1"
CKPT_DIR = "checkpoints"
_STEP_RE = re.compile(r"^step-(\d+)\.pt$")


def checkpoint_name(step: int) -> str:
    """File name of the checkpoint taken after ``step`` optimizer steps."""
    return f"step-{step:08d}.pt"


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a temporary file in the same folder, then a rename.

    A crash mid-write leaves the previous file intact, never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, **payload}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Step checkpoints of a run directory, oldest first."""
    folder = Path(run_dir) / CKPT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def prune_checkpoints(run_dir: str | Path, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` step checkpoints (``keep_last <= 0`` keeps all)."""
    if keep_last <= 0:
        return
    for old in list_checkpoints(run_dir)[:-keep_last]:
        old.unlink(missing_ok=True)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest step checkpoint of a run directory, or ``None``."""
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def resolve_checkpoint(path_or_run_dir: str | Path) -> Path:
    """A checkpoint file given either itself or a run directory (its newest checkpoint)."""
    path = Path(path_or_run_dir)
    if path.is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise UserError(f"{path}: no checkpoints found (expected {path / CKPT_DIR}/step-*.pt)")
        return found
    if not path.exists():
        raise UserError(f"{path}: no such checkpoint file or run directory")
    return path


def load_checkpoint(path_or_run_dir: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a colormae checkpoint dict safely (``weights_only=True``)."""
    path = resolve_checkpoint(path_or_run_dir)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is a user-facing error
        raise UserError(f"{path}: not a readable checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(f"{path}: not a colormae checkpoint (use `colormae convert` for other formats)")
    return ckpt
