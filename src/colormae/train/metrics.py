"""Run metrics: one JSON object a line in ``metrics.jsonl`` and the same scalars in TensorBoard (``tb/``).

TensorBoard is optional: when the ``tensorboard`` package is missing only ``metrics.jsonl`` is written, and
the first logger of the process says so in one line (:func:`summary_writer_class`).
"""

from __future__ import annotations

import json
import math
import resource
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from colormae.extras import install_hint
from colormae.files import atomic_write_text
from colormae.progress import warn

METRICS_FILE = "metrics.jsonl"
TB_DIR = "tb"


@lru_cache(maxsize=1)
def summary_writer_class() -> type | None:
    """``torch.utils.tensorboard.SummaryWriter``; without tensorboard None, with one warning per process."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        warn("tensorboard is not installed: writing metrics.jsonl only "
             f"(for event files: {install_hint('viz')})")
        return None
    return SummaryWriter


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory so far: CUDA max allocated on GPU, else the process's max resident set size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def truncate_metrics(path: str | Path, step: int) -> int:
    """Drop the records of ``path`` logged after ``step`` (and a torn last line); returns how many went.

    A run resumed from the checkpoint of ``step`` logs the later steps again: without this they would
    appear twice, and the steps would jump backwards at the resume. Records without a ``step`` are kept.
    The file is rewritten atomically (:func:`colormae.files.atomic_write_text`).
    """
    path = Path(path)
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line torn by a crash mid-write
                dropped += 1
                continue
            logged_at = record.get("step") if isinstance(record, dict) else None
            if isinstance(logged_at, (int, float)) and logged_at > step:
                dropped += 1
                continue
            kept.append(line if line.endswith("\n") else line + "\n")
    if dropped:
        atomic_write_text(path, "".join(kept))
    return dropped


class MetricsLogger:
    """Append records to ``run_dir/metrics.jsonl`` and ``run_dir/tb``; a no-op when not ``enabled``.

    ``start_step``: the step the run starts from (0, or the resumed checkpoint's step). Records logged
    after it by an earlier attempt are dropped from ``metrics.jsonl`` (:func:`truncate_metrics`) and
    hidden in TensorBoard (``purge_step``), so a resumed run's steps never repeat or go backwards.
    """

    def __init__(self, run_dir: str | Path | None, *, enabled: bool = True, tensorboard: bool = True,
                 start_step: int | None = None) -> None:
        self.enabled = enabled and run_dir is not None
        self._fh = None
        self._tb = None
        if not self.enabled:
            return
        run_dir = Path(run_dir)  # type: ignore[arg-type]
        run_dir.mkdir(parents=True, exist_ok=True)
        if start_step is not None:
            truncate_metrics(run_dir / METRICS_FILE, start_step)
        self._fh = open(run_dir / METRICS_FILE, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        writer = summary_writer_class() if tensorboard else None
        if writer is not None:
            purge = None if start_step is None else start_step + 1
            self._tb = writer(str(run_dir / TB_DIR), purge_step=purge)

    def log(self, record: dict[str, Any]) -> None:
        """Write one record; numeric values other than ``step`` also go to TensorBoard at that step."""
        if not self.enabled or self._fh is None:
            return
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()
        if self._tb is not None:
            step = int(record.get("step", 0))
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                    self._tb.add_scalar(f"train/{key}", value, step)

    def close(self) -> None:
        """Flush and close the files."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Records of a ``metrics.jsonl`` file (or of a run directory's), in order."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
