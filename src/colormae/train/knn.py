"""The k-NN core: pooled encoder features, and the weighted votes of the ``k`` nearest training features
(the DINO protocol).

Features are L2-normalised, similarity is the cosine (a dot product), each of the ``k`` nearest training
samples votes for its class with weight ``exp(sim / T)`` (Wu et al. 2018; Caron et al. 2021, DINO: k=20,
T=0.07). Written by hand: neither torch nor timm ships a batched, weighted k-NN classifier, and
scikit-learn's would copy features to NumPy and lacks the temperature weighting.

It sits in the engine's layer so that both the ``knn`` job (:mod:`colormae.eval.knn`, every metric) and
pretraining's online monitor (:mod:`colormae.pretrain.monitors`, :func:`knn_accuracy`) use it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from colormae.errors import UserError
from colormae.train.confusion import balanced_accuracy, confusion_matrix

FEATURES = ("cls", "mean")
#: What :func:`pool_tokens` gives: the pooled features and the patch tokens (``"patch"``, ``(B, L, D)``).
TOKEN_FEATURES = (*FEATURES, "patch")


def pool_tokens(tokens: Tensor, feature: str = "cls", num_prefix_tokens: int = 1) -> Tensor:
    """Pool encoder tokens ``(B, P + L, D)`` to ``(B, D)``: [CLS] (``"cls"``) or patch mean (``"mean"``);
    ``"patch"`` gives the patch tokens ``(B, L, D)``."""
    if feature == "cls":
        return tokens[:, 0]
    if feature == "mean":
        return tokens[:, num_prefix_tokens:].mean(dim=1)
    if feature == "patch":
        return tokens[:, num_prefix_tokens:]
    raise UserError(f"unknown feature {feature!r}; choose one of {', '.join(TOKEN_FEATURES)}")


def resolve_layer(layer: int, depth: int) -> int:
    """Block ``layer`` (0-based, or negative from the end as in Python) of a ``depth``-block encoder as a
    0-based index; a one-line error outside ``-depth..depth-1``."""
    if not -depth <= layer < depth:
        raise UserError(f"--layer {layer}: the encoder has {depth} blocks; give 0..{depth - 1} or "
                        f"-{depth}..-1 (from the end)")
    return layer % depth


def encoder_layer(model: nn.Module, layer: int | None) -> int:
    """The 0-based block of ``model``'s encoder that ``layer`` names (``None``: the last)."""
    depth = len(getattr(model, "encoder", model).blocks)
    return depth - 1 if layer is None else resolve_layer(layer, depth)


def block_tokens(model: nn.Module, images: Tensor, layer: int | None = None) -> Tensor:
    """Tokens ``(B, P + L, D)`` of ``images: (B, C, H, W)`` after encoder block ``layer`` (0-based or
    negative from the end), normed by the encoder's final norm (DINOv2's ``get_intermediate_layers(...,
    norm=True)``: every layer's features on the scale the final norm gives); ``None`` (or the last block):
    ``model.forward_features(images)`` itself. ``model``: a timm ViT or a module whose ``encoder`` is one."""
    vit = getattr(model, "encoder", model)
    index = None if layer is None else encoder_layer(model, layer)
    if index is None or index == len(vit.blocks) - 1:
        return model.forward_features(images)
    out = vit.forward_intermediates(images, indices=[index], norm=True,
                                    return_prefix_tokens=True, stop_early=True, output_fmt="NLC",
                                    intermediates_only=True)[0]
    return torch.cat([out[1], out[0]], dim=1) if isinstance(out, tuple) else out  # [prefix, patches]


@torch.no_grad()
def encode(model: nn.Module, images: Tensor, feature: str = "cls", layer: int | None = None) -> Tensor:
    """Pooled features ``(B, D)`` (``"patch"``: ``(B, L, D)``) of ``images: (B, C, H, W)`` after block
    ``layer`` (:func:`block_tokens`; ``None``: the last) (caller sets eval mode and device)."""
    tokens = block_tokens(model, images, layer)
    prefix = getattr(getattr(model, "encoder", model), "num_prefix_tokens", 1)
    return pool_tokens(tokens, feature, prefix).float()


@torch.no_grad()
def knn_votes(train_features: Tensor, train_labels: Tensor, test_features: Tensor, *, num_classes: int,
              k: int = 20, temperature: float = 0.07, chunk_size: int = 1024) -> Tensor:
    """Class votes of every test sample.

    ``train_features: (N, D)``, ``train_labels: (N,)`` in ``[0, num_classes)``, ``test_features: (M, D)``.
    Returns ``(M, num_classes)`` summed weights ``exp(cos / temperature)`` of the ``k`` nearest training
    samples per class. Test rows are processed ``chunk_size`` at a time to bound memory at
    ``chunk_size x N`` similarities.

    ``train_labels: (N, C)`` float (several classes an image, 0 / 1, or regression targets): the
    weighted mean of the neighbours' rows instead, ``sum_k w_k y_k / sum_k w_k``: per class the share of
    the vote weight whose neighbour has it (multi-label k-NN), or the weighted mean target.
    """
    if k < 1:
        raise UserError(f"--k must be at least 1, got {k}")
    if temperature <= 0:
        raise UserError(f"--temperature must be positive, got {temperature}")
    if train_features.shape[0] == 0:
        raise UserError("k-NN needs at least one training sample")
    k = min(k, train_features.shape[0])
    train = F.normalize(train_features.float(), dim=1)
    soft = train_labels.ndim == 2
    rows = train_labels.to(train.device).float() if soft else None
    labels = train_labels.to(train.device).long()
    votes = []
    for start in range(0, test_features.shape[0], chunk_size):
        test = F.normalize(test_features[start:start + chunk_size].float().to(train.device), dim=1)
        sim, idx = (test @ train.T).topk(k, dim=1)                         # (m, k)
        weights = (sim / temperature).exp()                                # (m, k)
        if soft:                                                           # (m, k, C) rows, weighted mean
            votes.append((weights.unsqueeze(-1) * rows[idx]).sum(1) / weights.sum(1, keepdim=True))
            continue
        neighbour_labels = labels[idx]                                     # (m, k)
        v = torch.zeros(test.shape[0], num_classes, device=train.device)
        v.scatter_add_(1, neighbour_labels, weights)                       # (m, C)
        votes.append(v)
    return torch.cat(votes) if votes else torch.zeros(0, num_classes)


def knn_accuracy(train_features: Tensor, train_labels: Tensor, test_features: Tensor, test_labels: Tensor,
                 *, num_classes: int, k: int = 20, temperature: float = 0.07) -> dict[str, float]:
    """``{"top1": ..., "balanced_acc": ...}`` (percent) of weighted k-NN; shapes as in :func:`knn_votes`,
    ``test_labels: (M,)``. The same numbers as :func:`colormae.eval.knn.knn_classify`'s, without the rest."""
    votes = knn_votes(train_features, train_labels, test_features, num_classes=num_classes, k=k,
                      temperature=temperature)
    pred = votes.argmax(dim=1).cpu()
    truth = test_labels.long().cpu()
    top1 = 100.0 * float((pred == truth).float().mean()) if truth.numel() else 0.0
    return {"top1": top1, "balanced_acc": balanced_accuracy(confusion_matrix(pred, truth, num_classes))}
