"""Run metrics: one JSON object a line in ``metrics.jsonl`` and the same scalars in TensorBoard (``tb/``)
and the other backends of :mod:`colormae.train.loggers` (W&B with ``logger="wandb"``).

TensorBoard is optional: when the ``tensorboard`` package is missing only ``metrics.jsonl`` (and the other
backends) are written, and the first logger of the process says so in one line
(:func:`colormae.train.loggers.summary_writer_class`).
"""

from __future__ import annotations

import json
import math
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from colormae.files import atomic_write_text
from colormae.train.loggers import build_backends

METRICS_FILE = "metrics.jsonl"


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory so far: CUDA max allocated on GPU, else the process's max resident set size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def _step_of(record: Any) -> Any:
    """A record's ``step`` (None for a record without one, or not a JSON object)."""
    return record.get("step") if isinstance(record, dict) else None


def records_up_to(path: str | Path, step: float, logged_at: Callable[[Any], Any] = _step_of
                  ) -> tuple[list[Any], list[str], int]:
    """The records of the JSON-lines log ``path`` logged at or before ``step``, their lines (each ending
    in a newline), and how many lines went: records logged after ``step`` (``logged_at(record)``, default
    its ``step``; a record without a number there stays) and lines torn or glued together by a crash."""
    kept, lines, dropped = [], [], 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line torn by a crash mid-write
                dropped += 1
                continue
            at = logged_at(record)
            if isinstance(at, (int, float)) and at > step:
                dropped += 1
                continue
            kept.append(record)
            lines.append(line if line.endswith("\n") else line + "\n")
    return kept, lines, dropped


def truncate_metrics(path: str | Path, step: int) -> int:
    """Drop the records of ``path`` logged after ``step`` (and a torn last line); returns how many went.

    A run resumed from the checkpoint of ``step`` logs the later steps again: without this they would
    appear twice, and the steps would jump backwards at the resume. Records without a ``step`` are kept.
    The file is rewritten atomically (:func:`colormae.files.atomic_write_text`).
    """
    path = Path(path)
    if not path.is_file():
        return 0
    _, lines, dropped = records_up_to(path, step)
    if dropped:
        atomic_write_text(path, "".join(lines))
    return dropped


class MetricsLogger:
    """Append records to ``run_dir/metrics.jsonl`` and to the backends of ``logger`` (TensorBoard in
    ``run_dir/tb``; W&B too with ``logger="wandb"``, which also gets ``config``); a no-op when not
    ``enabled``.

    ``start_step``: the step the run starts from (0, or the resumed checkpoint's step). Records logged
    after it by an earlier attempt are dropped from ``metrics.jsonl`` (:func:`truncate_metrics`) and
    hidden in TensorBoard (``purge_step``), so a resumed run's steps never repeat or go backwards.
    """

    def __init__(self, run_dir: str | Path | None, *, enabled: bool = True, tensorboard: bool = True,
                 start_step: int | None = None, logger: str = "tensorboard",
                 config: dict[str, Any] | None = None) -> None:
        self.enabled = enabled and run_dir is not None
        self._fh = None
        self.backends: list[Any] = []
        if not self.enabled:
            return
        run_dir = Path(run_dir)  # type: ignore[arg-type]
        run_dir.mkdir(parents=True, exist_ok=True)
        if start_step is not None:
            truncate_metrics(run_dir / METRICS_FILE, start_step)
        self._fh = open(run_dir / METRICS_FILE, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.backends = build_backends(logger, run_dir, start_step=start_step, config=config,
                                       tensorboard=tensorboard)

    def log(self, record: dict[str, Any], prefix: str = "train") -> None:
        """Write one record; its finite numbers other than ``step`` also go to every backend, tagged
        ``prefix/key``, at that step."""
        if not self.enabled or self._fh is None:
            return
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()
        step = int(record.get("step", 0))
        values = {f"{prefix}/{k}": float(v) for k, v in record.items()
                  if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)
                  and math.isfinite(v)}
        for backend in self.backends:
            backend.scalars(values, step)

    def log_image(self, tag: str, image: torch.Tensor, step: int) -> None:
        """Send ``image`` ``(3, H, W)`` float in ``[0, 1]`` to every backend under ``tag`` at ``step``."""
        for backend in self.backends if self.enabled else []:
            backend.image(tag, image, step)

    def close(self) -> None:
        """Flush and close the files."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        for backend in self.backends:
            backend.close()
        self.backends = []


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Records of a ``metrics.jsonl`` file (or of a run directory's), in order.

    A last line cut short (no newline: a crash mid-write, in a run that was not resumed) is left out, as
    :func:`truncate_metrics` drops it; any other line that is not JSON raises ``json.JSONDecodeError``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines) or line.endswith("\n"):
                raise
    return records
