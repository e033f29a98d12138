"""Norm-pix predictions back to pixels, without peeking at the masked pixels.

With ``norm_pix_loss`` the MAE predicts every patch normalised by its own mean and (unbiased) variance
(:meth:`colormae.models.MaskedAutoencoder.target`). To show a prediction as pixels those two numbers are
needed, and for a *masked* patch they are part of the answer: un-normalising with the masked patch's own
true statistics (``stats="true"``, the usual practice, MAE-pytorch #40) hands the figure the patch's
brightness and contrast, so a model that predicts little still looks good.

``stats="visible"`` (the default everywhere in colormae) estimates a masked patch's mean and variance from
the **visible patches around it**: a Gaussian-weighted average over the patch grid, weight
``softmax_j(-d(i, j)**2 / (2 sigma**2))`` over the visible patches ``j`` (``d`` in patches, ``sigma``
default 1.5). Why local rather than the image's visible patches as a whole: images are not stationary
(sky above, ground below), and an image-wide mean paints every masked patch the same grey; the nearest
visible patches are what a viewer would guess from, and what the Hiera authors suggest. Because the
weights are a softmax, a masked patch far from any visible one (colour-noise masks leave large holes)
still gets the statistics of its nearest visible patches instead of underflowing to nothing, and as
``sigma`` grows the estimate becomes the image-wide visible average. Visible patches keep their own
statistics (they are not hidden), and only visible pixels enter any estimate. An image with no visible
patch at all gets mean 0 and variance 1, the normalisation's mean and scale.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from colormae.models.mae import NORM_PIX_EPS

#: How masked patches are un-normalised: from visible neighbours (honest) or their own true statistics.
STATS = ("visible", "true")
#: Default width of the neighbourhood of ``stats="visible"``, in patches.
VISIBLE_SIGMA = 1.5


def patch_stats(patches: Tensor) -> tuple[Tensor, Tensor]:
    """Per-patch mean and unbiased variance over all of a patch's values: ``(B, L, D)`` -> two ``(B, L, 1)``
    (the statistics the norm-pix target divides out)."""
    return patches.mean(dim=-1, keepdim=True), patches.var(dim=-1, keepdim=True)


def visible_stats(patches: Tensor, mask: Tensor, grid: tuple[int, int], *,
                  sigma: float = VISIBLE_SIGMA) -> tuple[Tensor, Tensor]:
    """Each patch's mean and variance estimated from the visible patches around it (module docstring).

    patches: ``(B, L, D)``; mask: bool ``(B, L)``, True = masked; grid: ``(grid_h, grid_w)`` with
    ``grid_h * grid_w == L``. Returns mean and variance ``(B, L, 1)``: visible patches their own, masked
    ones the softmax-of-distance weighted average of the visible patches' (0 and 1 without any).
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    mean, var = patch_stats(patches.float())
    gh, gw = grid
    rows, cols = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    coords = torch.stack([rows.flatten(), cols.flatten()], dim=1).float().to(patches.device)  # (L, 2)
    logits = -torch.cdist(coords, coords).square() / (2 * sigma**2)                         # (L, L)
    visible = ~mask.bool()                                                                   # (B, L)
    logits = logits.unsqueeze(0).masked_fill(~visible.unsqueeze(1), float("-inf"))          # (B, L, L)
    any_visible = visible.any(dim=1)                                                         # (B,)
    weights = torch.softmax(logits.masked_fill(~any_visible.view(-1, 1, 1), 0.0), dim=-1)
    est_mean = torch.where(any_visible.view(-1, 1, 1), weights @ mean, torch.zeros_like(mean))
    est_var = torch.where(any_visible.view(-1, 1, 1), weights @ var, torch.ones_like(var))
    keep = visible.unsqueeze(-1)
    return torch.where(keep, mean, est_mean), torch.where(keep, var, est_var)


def unnormalize_prediction(pred: Tensor, patches: Tensor, mask: Tensor, grid: tuple[int, int], *,
                           stats: Literal["visible", "true"] = "visible",
                           sigma: float = VISIBLE_SIGMA, eps: float = NORM_PIX_EPS) -> Tensor:
    """Map norm-pix predictions to patch pixels (in the model's normalised input space).

    pred: ``(B, L, p*p*C)`` the decoder's per-patch prediction in the norm-pix space; patches: ``(B, L,
    p*p*C)`` the target image's patches (``model.patchify(images)``); mask: bool ``(B, L)``, True =
    masked; grid: ``(grid_h, grid_w)``. Returns ``(B, L, p*p*C)``: ``pred * sqrt(var + eps) + mean`` with
    each masked patch's ``mean`` / ``var`` from ``stats``: ``"visible"`` (:func:`visible_stats`, no
    masked pixel is read) or ``"true"`` (its own, which leaks the answer). Visible patches use their own.
    """
    if stats == "true":
        mean, var = patch_stats(patches.float())
    elif stats == "visible":
        mean, var = visible_stats(patches, mask, grid, sigma=sigma)
    else:
        raise ValueError(f"stats must be one of {', '.join(STATS)}, got {stats!r}")
    return pred.float() * (var + eps).sqrt() + mean
