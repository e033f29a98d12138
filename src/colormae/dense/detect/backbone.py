"""The ViTDet backbone: a plain ViT with window attention, global blocks and relative position bias.

timm's ``VisionTransformerSAM`` *is* ViTDet's ViT (Li et al. 2022; SAM's image encoder reuses it): window
attention of ``window_size`` with padding, ``global_attn_indexes`` blocks of global attention,
decomposed relative position bias (``attn.rel_pos_h`` / ``rel_pos_w``, zero-initialised, linearly
interpolated when a window or grid differs), absolute position embeddings ``(1, Gh, Gw, D)`` resampled
to the input's grid at every forward. So nothing of the ViT is written here; this module only builds it
from an MAE config (no neck, no final norm: ViTDet feeds the last block's map to the pyramid) and moves
pretrained encoder weights into it:

- block weights keep their names (timm ``Block`` and SAM ``Block`` share them);
- the position embedding drops the [CLS] entry and is interpolated (bicubic, as ViTDet's
  ``get_abs_pos``) from the pretrained grid to the detection grid;
- relative position tables present in the source are interpolated to each block's length (as ViTDet's
  ``get_rel_pos``); where the source has none (every MAE checkpoint) they stay zero.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from colormae.errors import UserError
from colormae.models import MAEConfig
from colormae.models.vit import use_fused_attention, vit_kwargs

#: ViTDet's window (ViT-B/L/H at 1024 px: a 64x64 grid in windows of 14).
WINDOW_SIZE = 14


def global_blocks(depth: int, count: int = 4) -> tuple[int, ...]:
    """Evenly spaced global-attention blocks, the last block included: ViT-B (12) -> 2, 5, 8, 11 (ViTDet),
    ViT-L (24) -> 5, 11, 17, 23, ViT-H (32) -> 7, 15, 23, 31."""
    count = min(count, depth)
    return tuple(sorted({(k + 1) * depth // count - 1 for k in range(count)}))


def build_vit(config: MAEConfig, *, img_size: int, window_size: int = WINDOW_SIZE,
              global_indexes: tuple[int, ...] | None = None, drop_path: float = 0.0) -> nn.Module:
    """A ViTDet ViT with ``config``'s encoder shapes for ``img_size`` inputs; ``forward_features(x (B, 3,
    H, W)) -> (B, D, H / p, W / p)``."""
    from timm.models.vision_transformer_sam import VisionTransformerSAM

    if img_size % config.patch_size:
        raise UserError(f"img_size {img_size} is not a multiple of the patch size {config.patch_size}")
    indexes = global_blocks(config.depth) if global_indexes is None else tuple(global_indexes)
    bad = [i for i in indexes if not 0 <= i < config.depth]
    if bad:
        raise UserError(f"global_blocks: {bad} outside the encoder's blocks 0..{config.depth - 1}")
    vit = VisionTransformerSAM(**vit_kwargs(
        config, img_size=img_size, num_classes=0, drop_path_rate=drop_path, use_abs_pos=True,
        use_rel_pos=True, window_size=window_size, global_attn_indexes=indexes, neck_chans=None,
        global_pool="",
    ))
    vit.neck = nn.Identity()  # ViTDet: the last block's map goes to the pyramid as it is
    vit.head = nn.Identity()
    use_fused_attention(vit)  # the relative-position bias goes in as a float mask
    return vit


def resize_rel_pos(table: Tensor, length: int) -> Tensor:
    """A relative-position table ``(L, C)`` linearly interpolated to ``(length, C)`` (ViTDet's rule)."""
    if table.shape[0] == length:
        return table
    out = F.interpolate(table.T[None].float(), size=length, mode="linear", align_corners=False)[0].T
    return out.to(table.dtype)


def resize_pos_embed(pos: Tensor, grid: tuple[int, int], *, cls_token: bool) -> Tensor:
    """A pretrained position embedding (``(1, [1 +] N, D)`` flat, or ``(1, h, w, D)``) as ``(1, *grid, D)``,
    bicubic-interpolated from its square grid (ViTDet's ``get_abs_pos``)."""
    if pos.ndim == 3:
        flat = pos[:, 1:] if cls_token else pos
        side = int(round(flat.shape[1] ** 0.5))
        if side * side != flat.shape[1]:
            raise UserError(f"position embedding of {flat.shape[1]} patches is not a square grid")
        pos = flat.reshape(1, side, side, -1)
    if tuple(pos.shape[1:3]) == tuple(grid):
        return pos
    out = F.interpolate(pos.permute(0, 3, 1, 2).float(), size=grid, mode="bicubic", align_corners=False)
    return out.permute(0, 2, 3, 1).to(pos.dtype)


def load_encoder(vit: nn.Module, encoder: dict[str, Tensor]) -> list[str]:
    """Copy a timm-ViT encoder state dict (an MAE's ``encoder``) into a :func:`build_vit` model.

    Returns notes on what was not copied as is (interpolated or zero-initialised). Raises a
    :class:`UserError` when a block weight is missing or its shape differs.
    """
    own = vit.state_dict()
    notes: list[str] = []
    new: dict[str, Tensor] = {}
    for key, value in own.items():
        if key == "pos_embed":
            if "pos_embed" in encoder:
                src = encoder["pos_embed"]
                has_cls = src.ndim == 3 and "cls_token" in encoder
                new[key] = resize_pos_embed(src, tuple(value.shape[1:3]), cls_token=has_cls).to(value.dtype)
                if tuple(new[key].shape) != tuple(value.shape):
                    raise UserError(f"position embedding {tuple(src.shape)} does not fit "
                                    f"{tuple(value.shape)}")
            else:
                notes.append("no position embedding in the checkpoint: zero-initialised")
                new[key] = torch.zeros_like(value)
            continue
        if ".rel_pos_" in key:
            if key in encoder:
                new[key] = resize_rel_pos(encoder[key], value.shape[0])
            else:
                new[key] = torch.zeros_like(value)
            continue
        if key not in encoder:
            raise UserError(f"the encoder has no weight {key!r} that the ViTDet backbone needs")
        if tuple(encoder[key].shape) != tuple(value.shape):
            raise UserError(f"encoder weight {key} is {tuple(encoder[key].shape)}, the backbone needs "
                            f"{tuple(value.shape)}")
        new[key] = encoder[key]
    if not any(".rel_pos_" in k for k in encoder):
        notes.append("relative position bias: none in the checkpoint, zero-initialised")
    vit.load_state_dict(new)
    return notes
