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


#: How far (max abs difference) a table may be from :func:`sincos_2d` and still count as one.
SINCOS_TOLERANCE = 1e-4


def is_sincos(table: Tensor, grid: int | tuple[int, int], *, num_prefix_tokens: int = 1) -> bool:
    """Whether ``table`` (``([1,] P + L, D)``) is the fixed 2-D sin-cos embedding of ``grid`` (zero [CLS]
    rows), as every MAE / ColorMAE checkpoint holds."""
    t = table.reshape(-1, table.shape[-1]).detach().float().cpu()
    d = t.shape[-1]
    gh, gw = (grid, grid) if isinstance(grid, int) else grid
    if d % 4 or t.shape[0] != num_prefix_tokens + gh * gw:
        return False
    ref = sincos_2d(d, (gh, gw))
    prefix_zero = bool((t[:num_prefix_tokens].abs() <= SINCOS_TOLERANCE).all())
    return prefix_zero and bool(((t[num_prefix_tokens:] - ref).abs() <= SINCOS_TOLERANCE).all())


def resample_pos_embed(table: Tensor, old_grid: int | tuple[int, int], new_grid: int | tuple[int, int], *,
                       num_prefix_tokens: int = 1, method: str = "auto") -> Tensor:
    """A position-embedding table for another patch grid.

    Args:
        table: ``(1, P + L_old, D)`` or ``(P + L_old, D)``: ``P`` prefix ([CLS]) rows, then the grid
            row-major.
        old_grid, new_grid: ``(grid_h, grid_w)`` (or an int for a square grid).
        num_prefix_tokens: ``P``; prefix rows are kept as they are.
        method: ``"sincos"`` regenerates the fixed sin-cos embedding for the new grid (patches keep unit
            spacing, as a model created at that size has; exact, so 8x8 -> 12x8 -> 8x8 returns the
            table); ``"bicubic"`` resamples the table as an image (timm's ``resample_abs_pos_embed``,
            antialiased; what MAE / DeiT do for learned tables); ``"auto"``: ``sincos`` when the table is
            a sin-cos table (:func:`is_sincos`), else ``bicubic``.

    Returns:
        a table of the same layout, dtype and device for ``new_grid``; the input itself when the grids
        are equal (so a model at its own size is unchanged).
    """
    og = (old_grid, old_grid) if isinstance(old_grid, int) else tuple(old_grid)
    ng = (new_grid, new_grid) if isinstance(new_grid, int) else tuple(new_grid)
    if og == ng:
        return table
    squeeze = table.dim() == 2
    t = table[None] if squeeze else table
    if t.shape[1] != num_prefix_tokens + og[0] * og[1]:
        raise ValueError(f"position table of {t.shape[1]} rows does not fit a {og[0]}x{og[1]} grid "
                         f"with {num_prefix_tokens} prefix token(s)")
    if method == "auto":
        method = "sincos" if is_sincos(t, og, num_prefix_tokens=num_prefix_tokens) else "bicubic"
    if method == "sincos":
        grid_rows = sincos_2d(t.shape[-1], ng).to(device=t.device, dtype=t.dtype)[None]
        out = torch.cat([t[:, :num_prefix_tokens], grid_rows], dim=1)
    elif method == "bicubic":
        from timm.layers import resample_abs_pos_embed

        out = resample_abs_pos_embed(t, list(ng), list(og), num_prefix_tokens=num_prefix_tokens)
    else:
        raise ValueError(f"unknown resampling method {method!r}")
    return out[0] if squeeze else out


#: Position-embedding entries of a :class:`~colormae.models.MaskedAutoencoder` state dict.
POS_EMBED_KEYS = ("encoder.pos_embed", "decoder_pos_embed")


def resize_pos_embeds(state_dict: dict[str, Tensor], old_grid: tuple[int, int], new_grid: tuple[int, int],
                      *, keys: tuple[str, ...] = POS_EMBED_KEYS, method: str = "auto") -> dict[str, Tensor]:
    """A copy of ``state_dict`` whose position tables (``keys`` present) are resampled to ``new_grid``
    with :func:`resample_pos_embed`; everything else is shared, not copied."""
    out = dict(state_dict)
    for key in keys:
        if key in out:
            out[key] = resample_pos_embed(out[key], old_grid, new_grid, method=method)
    return out
