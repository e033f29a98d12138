"""Checkpoints: atomic writes, keep-last-K, and loading a model back from a file or a run directory.

A checkpoint is a plain ``dict`` saved with :func:`torch.save` whose values are tensors, numbers,
strings, lists and dicts only, so it loads with ``torch.load(weights_only=True)`` (never unpickling
arbitrary objects). See ``docs/architecture.md`` for its keys.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from colormae.errors import UserError

FORMAT = "colormae/1"
CKPT_DIR = "checkpoints"
_STEP_RE = re.compile(r"^step-(\d+)\.pt$")
#: Temporary files of :func:`save_checkpoint` (``.step-00000012.pt.abc123.tmp``).
_TMP_GLOB = ".step-*.pt.*.tmp"
#: Suffix given to a checkpoint that did not load when a resume fell back past it (kept, not deleted).
CORRUPT_SUFFIX = ".corrupt"


class CorruptCheckpoint(UserError):
    """A checkpoint file that exists but cannot be read (truncated by a crash, damaged on disk)."""


class NonFiniteCheckpoint(UserError):
    """A checkpoint whose weights hold NaN or infinity (a diverged run): refused for evaluation and resume."""


def checkpoint_name(step: int) -> str:
    """File name of the checkpoint taken after ``step`` optimizer steps."""
    return f"step-{step:08d}.pt"


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a temporary file in the same folder, then a rename.

    A crash mid-write leaves the previous file intact, never a half-written one.
    """
    from colormae.files import atomic_write

    payload = {"format": FORMAT, **payload}
    return atomic_write(path, lambda fh: torch.save(payload, fh))


def remove_stale_temporaries(run_dir: str | Path) -> list[Path]:
    """Delete the temporary files a crash (e.g. SIGKILL) left behind mid-write; returns what was removed.

    Call it only when no other process writes checkpoints into ``run_dir`` (the start of a run, rank 0).
    """
    folder = Path(run_dir) / CKPT_DIR
    removed = sorted(folder.glob(_TMP_GLOB)) if folder.is_dir() else []
    for tmp in removed:
        tmp.unlink(missing_ok=True)
    return removed


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


def nonfinite_tensors(state_dict: Mapping[str, Any]) -> list[str]:
    """Names of the floating-point tensors of ``state_dict`` holding NaN or infinity (meta tensors pass)."""
    bad = []
    for name, value in state_dict.items():
        if (isinstance(value, torch.Tensor) and value.is_floating_point() and not value.is_meta
                and not bool(torch.isfinite(value).all())):
            bad.append(name)
    return bad


def require_finite(state_dict: Mapping[str, Any], source: str | Path) -> None:
    """Raise :class:`NonFiniteCheckpoint` (one line naming ``source``) if any weight is NaN or infinite."""
    bad = nonfinite_tensors(state_dict)
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise NonFiniteCheckpoint(f"{source}: weights are not finite (NaN or inf in {bad[0]}{more}): the run "
                                  "diverged before this checkpoint; use an earlier one")


def _read(path: Path, map_location: str | torch.device, *, mmap: bool = False) -> dict[str, Any]:
    """``torch.load`` a colormae checkpoint file; unreadable -> :class:`CorruptCheckpoint`."""
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except FileNotFoundError:
        raise
    except Exception as err:  # noqa: BLE001 - any unreadable file is a user-facing error
        reason = str(err).split(". ")[0].splitlines()[0] if str(err) else "unreadable"
        raise CorruptCheckpoint(f"{path}: not a readable checkpoint, perhaps truncated by a crash "
                                f"({type(err).__name__}: {reason})") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(f"{path}: not a colormae checkpoint (use `colormae convert` for other formats)")
    return ckpt


def load_checkpoint(path_or_run_dir: str | Path, map_location: str | torch.device = "cpu", *,
                    finite: bool = True) -> dict[str, Any]:
    """Load a colormae checkpoint dict safely (``weights_only=True``).

    ``finite=True`` refuses weights (``model``, ``ema``) holding NaN or infinity (:func:`require_finite`),
    so nothing evaluates or resumes a diverged run.
    """
    path = resolve_checkpoint(path_or_run_dir)
    ckpt = _read(path, map_location)
    if finite:
        for key in ("model", "ema"):
            if isinstance(ckpt.get(key), Mapping):
                require_finite(ckpt[key], path)
    return ckpt


def checkpoint_step(path: str | Path) -> int:
    """The optimizer step a checkpoint file was saved at (memory-mapped: no tensor is read)."""
    return int(_read(Path(path), "cpu", mmap=True)["step"])


def newest_readable_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest step checkpoint of ``run_dir`` that opens, or ``None`` when there is none.

    A newer one that does not open (truncated by a crash, damaged) is renamed to ``*.pt.corrupt`` (kept
    for inspection, out of the way of pruning and of the next resume) with a warning, and the previous
    one is tried. Only the file's index is read here (``mmap``), not its tensors.
    """
    for path in reversed(list_checkpoints(run_dir)):
        try:
            _read(path, "cpu", mmap=True)
        except CorruptCheckpoint as err:
            warnings.warn(f"{err}; falling back to the previous checkpoint", stacklevel=2)
            try:  # several ranks may race to do this: the first one wins, the others find it gone
                os.replace(path, path.with_name(path.name + CORRUPT_SUFFIX))
            except OSError:
                pass
            continue
        except FileNotFoundError:  # another rank just moved it aside
            continue
        return path
    return None

