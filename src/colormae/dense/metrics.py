"""Semantic-segmentation metrics from a confusion matrix (mmseg's ``IoUMetric``).

``IoU_c = TP_c / (TP_c + FP_c + FN_c)``, ``Acc_c = TP_c / (TP_c + FN_c)``; mIoU and mAcc are their means
over the classes where they are defined (a class absent from both ground truth and prediction has no
IoU; one absent from the ground truth has no Acc), aAcc = correct / labelled pixels. Pixels whose label
is the ignore index are not counted at all. Everything is in percent.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from colormae.train import confusion


class ConfusionMatrix(confusion.ConfusionMatrix):
    """``counts[t, p]`` = labelled pixels of true class ``t`` predicted as ``p`` (pixels labelled
    ``ignore_index`` are not counted); summed over ranks on :meth:`all_reduce`. The accumulator is
    :class:`colormae.train.confusion.ConfusionMatrix`; this adds the segmentation metrics."""

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        super().__init__(num_classes, ignore_index)

    def compute(self, classes: Sequence[str] | None = None) -> dict:
        """``{"mIoU", "mAcc", "aAcc", "IoU": {class: value or None}, "Acc": {...}}`` in percent."""
        return segmentation_metrics(self.counts, classes)


def segmentation_metrics(counts: Tensor, classes: Sequence[str] | None = None) -> dict:
    """Metrics of a ``(K, K)`` confusion matrix (rows = truth); see the module docstring."""
    counts = counts.double()
    tp = counts.diag()
    gt = counts.sum(1)
    union = gt + counts.sum(0) - tp
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))
    acc = torch.where(gt > 0, tp / gt.clamp(min=1), torch.full_like(tp, float("nan")))
    names = list(classes) if classes is not None else [str(i) for i in range(len(tp))]

    def mean(x: Tensor) -> float:
        x = x[~x.isnan()]
        return 100.0 * float(x.mean()) if len(x) else float("nan")

    def per_class(x: Tensor) -> dict[str, float | None]:
        return {n: (None if v != v else 100.0 * v) for n, v in zip(names, x.tolist(), strict=True)}

    total = float(gt.sum())
    return {"mIoU": mean(iou), "mAcc": mean(acc),
            "aAcc": 100.0 * float(tp.sum()) / total if total else float("nan"),
            "IoU": per_class(iou), "Acc": per_class(acc)}
