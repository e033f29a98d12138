"""Classification metrics and the JSON files evaluation commands write.

Every evaluation (``linprobe``, ``knn``, ``finetune``) ends in a flat dict of numbers and strings, written
with :func:`write_results` so that scripts and the demo read the same format. Its metrics come from
:func:`classification_metrics` / :class:`ClassificationMeter`: ``top1`` / ``top5`` (percent),
``balanced_acc`` (mean per-class recall, percent, as ``sklearn.metrics.balanced_accuracy_score``: classes
without validation images are left out), ``per_class_acc`` (``{class: recall percent or None}``),
``predicted_classes`` (how many distinct classes the top-1 predictions use) and, when every prediction is
the same class, ``warning`` ("predicts only class X for every image"), also raised as a
:class:`CollapsedPredictionsWarning`: on an imbalanced set such a classifier still scores the majority rate.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from colormae.files import atomic_write_text
from colormae.ranks import all_reduce
from colormae.train.confusion import ConfusionMatrix, balanced_accuracy, confusion_matrix


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
        t = all_reduce(torch.tensor([self.count, *(self.correct[k] for k in self.ks)], dtype=torch.float64))
        self.count = int(t[0])
        self.correct = {k: int(t[i + 1]) for i, k in enumerate(self.ks)}

    def compute(self) -> dict[str, float]:
        """``{"top1": ..., "top5": ...}`` in percent."""
        n = max(self.count, 1)
        return {f"top{k}": 100.0 * self.correct[k] / n for k in self.ks}


class CollapsedPredictionsWarning(UserWarning):
    """Every validation prediction is the same class."""


def collapse_message(confusion: Tensor, class_names: Sequence[str] | None = None) -> str | None:
    """``"predicts only class X for every image ..."`` when all predictions fall in one class and the
    targets hold more than one class; else None."""
    predicted = confusion.sum(dim=0)
    n = int(predicted.sum())
    if n < 2 or int((confusion.sum(dim=1) > 0).sum()) < 2 or int((predicted > 0).sum()) != 1:
        return None
    label = int(predicted.argmax())
    name = class_names[label] if class_names is not None and label < len(class_names) else str(label)
    share = 100.0 * float(confusion[label].sum()) / n
    return (f"predicts only class {name} for every image ({n} validation images, {share:.1f} % of which are "
            f"{name}): the classifier has collapsed to one class")


def metrics_from_confusion(confusion: Tensor, class_names: Sequence[str] | None = None, *,
                           warn: bool = True) -> dict[str, Any]:
    """``balanced_acc``, ``per_class_acc``, ``predicted_classes`` (+ ``warning``) of a confusion matrix."""
    c = confusion.shape[0]
    names = [str(class_names[i]) if class_names is not None and i < len(class_names) else str(i)
             for i in range(c)]
    support = confusion.sum(dim=1)
    per_class = {names[i]: (100.0 * float(confusion[i, i]) / int(support[i]) if int(support[i]) else None)
                 for i in range(c)}
    out: dict[str, Any] = {"balanced_acc": balanced_accuracy(confusion), "per_class_acc": per_class,
                           "predicted_classes": int((confusion.sum(dim=0) > 0).sum())}
    message = collapse_message(confusion, names)
    if message is not None:
        out["warning"] = message
        if warn:
            warnings.warn(message, CollapsedPredictionsWarning, stacklevel=3)
    return out


def classification_metrics(scores: Tensor, targets: Tensor, *, class_names: Sequence[str] | None = None,
                           ks: Sequence[int] = (1, 5), warn: bool = True) -> dict[str, Any]:
    """Top-k, balanced accuracy, per-class accuracy (percent) of ``scores: (N, C)`` against ``targets: (N,)``.

    Classes are the ``C`` columns of ``scores``. See the module docstring for the keys.
    """
    out: dict[str, Any] = topk_accuracy(scores, targets, ks)
    confusion = confusion_matrix(scores.argmax(dim=1), targets, scores.shape[1])
    return {**out, **metrics_from_confusion(confusion, class_names, warn=warn)}


class ClassificationMeter(TopKMeter):
    """:class:`TopKMeter` plus a confusion matrix: balanced and per-class accuracy over batches."""

    def __init__(self, ks: Sequence[int] = (1, 5), class_names: Sequence[str] | None = None,
                 num_classes: int | None = None) -> None:
        """``num_classes`` (default: the first batch's score columns) must be given under
        ``torch.distributed``, where a rank may see no batch at all."""
        super().__init__(ks)
        self.class_names = list(class_names) if class_names is not None else None
        self._matrix = ConfusionMatrix(num_classes or 0)

    @property
    def confusion(self) -> Tensor | None:
        """``(C, C)`` int64 counts so far (None before the first batch when ``num_classes`` was not given)."""
        return self._matrix.counts if self._matrix.num_classes else None

    def update(self, scores: Tensor, targets: Tensor) -> None:
        """Add a batch: ``scores: (B, C)``, ``targets: (B,)``."""
        super().update(scores, targets)
        # more score columns than listed classes grow the matrix
        self._matrix.update(scores.argmax(dim=1), targets, num_classes=scores.shape[1])

    def all_reduce(self) -> None:
        """Sum the counts and the confusion matrix over ranks (no-op outside ``torch.distributed``)."""
        super().all_reduce()
        if self.confusion is not None:
            self._matrix.all_reduce()

    def compute(self, *, warn: bool = True) -> dict[str, Any]:  # type: ignore[override]
        """Top-k plus ``balanced_acc``, ``per_class_acc``, ``predicted_classes`` (+ ``warning``)."""
        out: dict[str, Any] = super().compute()
        if self.confusion is not None:
            out.update(metrics_from_confusion(self.confusion, self.class_names, warn=warn))
        return out


def warn_if_collapsed(results: dict[str, Any]) -> None:
    """Raise :class:`CollapsedPredictionsWarning` with ``results["warning"]`` when a result carries one."""
    if results.get("warning"):
        warnings.warn(str(results["warning"]), CollapsedPredictionsWarning, stacklevel=2)


def write_results(path: str | Path, results: dict[str, Any]) -> Path:
    """Write ``results`` as indented JSON (atomically, parent folders created); returns the path."""
    return atomic_write_text(path, json.dumps(results, indent=2, sort_keys=True) + "\n")


def read_results(path: str | Path) -> dict[str, Any]:
    """Read a results JSON written by :func:`write_results`."""
    return json.loads(Path(path).read_text())
