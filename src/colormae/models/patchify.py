"""Images <-> patch sequences in the MAE / Hugging Face ViTMAE layout.

A patch is flattened as ``(p, q, c)`` — row within the patch, column within the patch, channel — which
is facebookresearch/mae's ``'nchpwq->nhwpqc'`` order; patches follow the grid row-major, so token
``i * grid_w + j`` is patch row ``i``, column ``j`` (the mask convention of ``docs/architecture.md``).
"""

from __future__ import annotations

import torch
from torch import Tensor


def patchify(images: Tensor, patch_size: int) -> Tensor:
    """Cut images into flattened patches.

    Args:
        images: ``(B, C, H, W)`` with ``H`` and ``W`` divisible by ``patch_size``.
        patch_size: side ``p`` of the square patches.

    Returns:
        ``(B, L, p*p*C)`` with ``L = (H/p) * (W/p)``.
    """
    b, c, h, w = images.shape
    p = patch_size
    if h % p or w % p:
        raise ValueError(f"image size {h}x{w} is not divisible by patch size {p}")
    gh, gw = h // p, w // p
    x = images.reshape(b, c, gh, p, gw, p)
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(b, gh * gw, p * p * c)


def unpatchify(
    x: Tensor, patch_size: int, grid: int | tuple[int, int], channels: int | None = None
) -> Tensor:
    """Inverse of :func:`patchify`.

    Args:
        x: ``(B, L, p*p*C)``.
        patch_size: side ``p`` of the patches.
        grid: patch grid ``(grid_h, grid_w)`` (an int for a square grid); ``grid_h * grid_w == L``.
        channels: ``C``; inferred from the last dimension when omitted.

    Returns:
        images ``(B, C, grid_h*p, grid_w*p)``.
    """
    gh, gw = (grid, grid) if isinstance(grid, int) else grid
    b, n, d = x.shape
    p = patch_size
    c = channels if channels is not None else d // (p * p)
    if n != gh * gw or d != p * p * c:
        raise ValueError(f"cannot unpatchify {tuple(x.shape)} with patch {p}, grid {gh}x{gw}, {c} channels")
    x = x.reshape(b, gh, gw, p, p, c)
    x = torch.einsum("nhwpqc->nchpwq", x)
    return x.reshape(b, c, gh * p, gw * p)
