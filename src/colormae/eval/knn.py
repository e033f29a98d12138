"""Weighted k-nearest-neighbour classification of frozen features (the DINO protocol), with every metric.

The votes come from the one k-NN core, :func:`colormae.train.knn.knn_votes` (it lives in the engine's
layer so that pretraining's online k-NN monitor uses the same code).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from colormae.eval.results import classification_metrics
from colormae.train.knn import knn_votes


def knn_classify(train_features: Tensor, train_labels: Tensor, test_features: Tensor, test_labels: Tensor,
                 *, num_classes: int | None = None, k: int = 20, temperature: float = 0.07,
                 class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Metrics of weighted k-NN (percent): ``top1``, ``top5``, ``balanced_acc``, ``per_class_acc``, ...
    (:func:`colormae.eval.results.classification_metrics`; a warning when every vote picks one class).

    Shapes as in :func:`knn_votes`; ``test_labels: (M,)``. ``num_classes`` defaults to the largest label
    seen plus one.
    """
    if num_classes is None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    votes = knn_votes(train_features, train_labels, test_features, num_classes=num_classes, k=k,
                      temperature=temperature)
    return classification_metrics(votes, test_labels.to(votes.device), class_names=class_names)
