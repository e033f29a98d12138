"""Weighted k-nearest-neighbour classification of frozen features (the DINO protocol).

Features are L2-normalised, similarity is the cosine (a dot product), each of the ``k`` nearest training
samples votes for its class with weight ``exp(sim / T)`` (Wu et al. 2018; Caron et al. 2021, DINO: k=20,
T=0.07). Written by hand: neither torch nor timm ships a batched, weighted k-NN classifier, and
scikit-learn's would copy features to NumPy and lacks the temperature weighting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from colormae.errors import UserError
from colormae.eval.results import classification_metrics


@torch.no_grad()
def knn_votes(train_features: Tensor, train_labels: Tensor, test_features: Tensor, *, num_classes: int,
              k: int = 20, temperature: float = 0.07, chunk_size: int = 1024) -> Tensor:
    """Class votes of every test sample.

    ``train_features: (N, D)``, ``train_labels: (N,)`` in ``[0, num_classes)``, ``test_features: (M, D)``.
    Returns ``(M, num_classes)`` summed weights ``exp(cos / temperature)`` of the ``k`` nearest training
    samples per class. Test rows are processed ``chunk_size`` at a time to bound memory at
    ``chunk_size x N`` similarities.
    """
    if k < 1:
        raise UserError(f"--k must be at least 1, got {k}")
    if temperature <= 0:
        raise UserError(f"--temperature must be positive, got {temperature}")
    if train_features.shape[0] == 0:
        raise UserError("k-NN needs at least one training sample")
    k = min(k, train_features.shape[0])
    train = F.normalize(train_features.float(), dim=1)
    labels = train_labels.to(train.device).long()
    votes = []
    for start in range(0, test_features.shape[0], chunk_size):
        test = F.normalize(test_features[start:start + chunk_size].float().to(train.device), dim=1)
        sim, idx = (test @ train.T).topk(k, dim=1)                         # (m, k)
        weights = (sim / temperature).exp()                                # (m, k)
        neighbour_labels = labels[idx]                                     # (m, k)
        v = torch.zeros(test.shape[0], num_classes, device=train.device)
        v.scatter_add_(1, neighbour_labels, weights)                       # (m, C)
        votes.append(v)
    return torch.cat(votes) if votes else torch.zeros(0, num_classes)


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
