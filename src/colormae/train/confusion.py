"""A confusion matrix accumulated over batches and summed over ranks.

One accumulator for every evaluator that counts (true class, predicted class) pairs: the classifiers'
balanced and per-class accuracy (:class:`colormae.eval.results.ClassificationMeter`) and the
segmentation metrics (:class:`colormae.dense.metrics.ConfusionMatrix`, with an ignore label). Counts are
int64 on the CPU, row = true class, column = predicted class.
"""

from __future__ import annotations

import torch
from torch import Tensor

from colormae.ranks import all_reduce


def confusion_matrix(predictions: Tensor, targets: Tensor, num_classes: int) -> Tensor:
    """``(C, C)`` int64 counts, row = true class, column = predicted class; ``predictions, targets: (N,)``."""
    index = targets.long().cpu() * num_classes + predictions.long().cpu()
    return torch.bincount(index, minlength=num_classes * num_classes).view(num_classes, num_classes)


def balanced_accuracy(confusion: Tensor) -> float:
    """Mean recall (percent) over the classes that have at least one true sample (sklearn's definition)."""
    support = confusion.sum(dim=1)
    present = support > 0
    if not bool(present.any()):
        return 0.0
    recall = confusion.diagonal()[present].double() / support[present].double()
    return 100.0 * float(recall.mean())


class ConfusionMatrix:
    """``counts[t, p]`` = samples (or pixels) of true class ``t`` predicted as ``p``, over every
    :meth:`update`; summed over the ranks of a process group by :meth:`all_reduce`.

    Args:
        num_classes: ``K``; 0 to take it from the first :meth:`update`'s ``num_classes``.
        ignore_index: a label that is not counted at all (``None``: every label counts).
    """

    def __init__(self, num_classes: int = 0, ignore_index: int | None = None) -> None:
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.counts = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred: Tensor, target: Tensor, num_classes: int | None = None) -> None:
        """Add predictions and labels of the same shape (any shape; integer class ids). ``num_classes``
        larger than the matrix grows it (new rows and columns start at 0)."""
        if pred.shape != target.shape:
            raise ValueError(f"prediction {tuple(pred.shape)} and labels {tuple(target.shape)} differ")
        if num_classes is not None and num_classes > self.num_classes:
            extra = num_classes - self.num_classes
            self.counts = torch.nn.functional.pad(self.counts, (0, extra, 0, extra))
            self.num_classes = num_classes
        pred, target = pred.reshape(-1).cpu().long(), target.reshape(-1).cpu().long()
        if self.ignore_index is not None:
            keep = target != self.ignore_index
            pred, target = pred[keep], target[keep]
        self.counts += confusion_matrix(pred, target, self.num_classes)

    def all_reduce(self) -> None:
        """Sum the counts over the ranks of an initialised process group (no-op otherwise)."""
        self.counts = all_reduce(self.counts.clone())
