"""Fixed 2-D sine-cosine position embeddings (MAE, He et al. 2022, after "Attention is all you need").

Layout (the one facebookresearch/mae checkpoints and Hugging Face ViTMAE use): for a token at patch row
``i`` and column ``j`` the first ``D/2`` values encode the column ``j`` and the last ``D/2`` the row ``i``;
each half is ``[sin(pos * w_k) | cos(pos * w_k)]`` with ``w_k = 10000 ** (-k / (D/4))``, k = 0..D/4-1.
Written with torch (the reference code uses numpy) so it builds directly on any device.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sincos_1d(positions: Tensor, dim: int, temperature: float = 10000.0) -> Tensor:
    """1-D embedding of ``positions: (N,)`` as ``(N, dim)``: ``[sin(pos*w) | cos(pos*w)]``."""
    if dim % 2:
        raise ValueError(f"1-D sin-cos embedding needs an even dimension, got {dim}")
    omega = torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0)
    omega = 1.0 / temperature**omega
    angles = positions.to(torch.float64)[:, None] * omega[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_2d(embed_dim: int, grid: int | tuple[int, int], *, cls_token: bool = False) -> Tensor:
    """2-D sin-cos position embedding for a patch grid.

    Args:
        embed_dim: ``D``, divisible by 4.
        grid: ``(grid_h, grid_w)`` or an int for a square grid.
        cls_token: prepend a zero row for the [CLS] token.

    Returns:
        float32 ``(grid_h * grid_w [+ 1], D)``, rows in row-major patch order.
    """
    if embed_dim % 4:
        raise ValueError(f"2-D sin-cos embedding needs a dimension divisible by 4, got {embed_dim}")
    gh, gw = (grid, grid) if isinstance(grid, int) else grid
    rows, cols = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    emb = torch.cat(
        [sincos_1d(cols.flatten(), embed_dim // 2), sincos_1d(rows.flatten(), embed_dim // 2)], dim=1
    )
    if cls_token:
        emb = torch.cat([torch.zeros(1, embed_dim, dtype=emb.dtype), emb], dim=0)
    return emb.float()
