"""Top-k accuracy and the JSON files evaluation commands write.

Every evaluation (``linprobe``, ``knn``, ``finetune``) ends in a flat dict of numbers and strings, written
with :func:`write_results` so that scripts and the demo read the same format.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor


def topk_correct(scores: Tensor, targets: Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, int]:
    """How many rows have their target among the ``k`` highest scores, for each ``k``.

    ``scores: (N, C)`` (logits, probabilities or votes), ``targets: (N,)`` class indices. A ``k`` larger
    than ``C`` is clipped to ``C`` (every row is then correct), as for Top-5 on a 3-class toy problem.
    """
    if scores.ndim != 2 or targets.shape != scores.shape[:1]:
        raise ValueError(f"scores (N, C) and targets (N,) expected, got {tuple(scores.shape)} and "
                         f"{tuple(targets.shape)}")
    kmax = min(max(ks), scores.shape[1])
    top = scores.topk(kmax, dim=1).indices                        # (N, kmax)
    hit = top.eq(targets.to(top.device).view(-1, 1))              # (N, kmax)
    return {k: int(hit[:, : min(k, kmax)].any(dim=1).sum()) for k in ks}


def topk_accuracy(scores: Tensor, targets: Tensor, ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Top-k accuracy in percent: ``{"top1": 93.1, "top5": 99.6}`` for ``ks=(1, 5)``."""
    correct = topk_correct(scores, targets, ks)
    n = max(int(targets.numel()), 1)
    return {f"top{k}": 100.0 * c / n for k, c in correct.items()}


class TopKMeter:
    """Running Top-k accuracy over batches (sums correct counts, never averages of averages)."""

    def __init__(self, ks: Sequence[int] = (1, 5)) -> None:
        self.ks = tuple(ks)
        self.correct = {k: 0 for k in self.ks}
        self.count = 0

    def update(self, scores: Tensor, targets: Tensor) -> None:
        """Add a batch: ``scores: (B, C)``, ``targets: (B,)``."""
        for k, c in topk_correct(scores, targets, self.ks).items():
            self.correct[k] += c
        self.count += int(targets.numel())

    def all_reduce(self) -> None:
        """Sum the counts over ranks (no-op outside ``torch.distributed``)."""
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return
        t = torch.tensor([self.count, *(self.correct[k] for k in self.ks)], dtype=torch.float64)
        if torch.distributed.get_backend() == "nccl":
            t = t.cuda()
        torch.distributed.all_reduce(t)
        self.count = int(t[0])
        self.correct = {k: int(t[i + 1]) for i, k in enumerate(self.ks)}

    def compute(self) -> dict[str, float]:
        """``{"top1": ..., "top5": ...}`` in percent."""
        n = max(self.count, 1)
        return {f"top{k}": 100.0 * self.correct[k] / n for k in self.ks}


def write_results(path: str | Path, results: dict[str, Any]) -> Path:
    """Write ``results`` as indented JSON (parent folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return path


def read_results(path: str | Path) -> dict[str, Any]:
    """Read a results JSON written by :func:`write_results`."""
    return json.loads(Path(path).read_text())
