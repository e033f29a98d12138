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


class ConfusionMatrix:
    """``counts[t, p]`` = labelled pixels of true class ``t`` predicted as ``p``; summed over ranks on
    :meth:`all_reduce`."""

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.counts = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add predictions and labels of the same shape (any shape; integer class ids)."""
        if pred.shape != target.shape:
            raise ValueError(f"prediction {tuple(pred.shape)} and labels {tuple(target.shape)} differ")
        pred, target = pred.reshape(-1).cpu().long(), target.reshape(-1).cpu().long()
        keep = target != self.ignore_index
        k = self.num_classes
        self.counts += torch.bincount(target[keep] * k + pred[keep], minlength=k * k).reshape(k, k)

    def all_reduce(self) -> None:
        """Sum the counts over the ranks of an initialised process group (no-op otherwise)."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            device = torch.device("cuda",
                                  torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
            counts = self.counts.to(device)
            dist.all_reduce(counts)
            self.counts = counts.cpu()

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
