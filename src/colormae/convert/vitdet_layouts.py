"""Backbone key layouts of mmdet's ViTDet project and detectron2's ViTDet, for ``colormae convert --to``.

Both projects define the same ViT (detectron2 ``detectron2/modeling/backbone/vit.py`` class ``ViT``;
mmdet ``projects/ViTDet/vitdet/vit.py`` class ``ViT``, a port of it used by
``vitdet_mask-rcnn_vit-b-mae_lsj-100e.py``, the config the official ColorMAE detection benchmark runs):

- ``patch_embed.proj.{weight,bias}``: ``Conv2d(in_chans, D, p, stride=p)``;
- ``pos_embed``: ``(1, 1 + (pretrain_img_size / p) ** 2, D)`` (``pretrain_use_cls_token=True``: a [CLS]
  slot that ``get_abs_pos`` drops before interpolating to the input grid);
- ``blocks.{i}.norm1``, ``blocks.{i}.attn.qkv`` (``(3D, D)`` + bias), ``blocks.{i}.attn.proj``,
  ``blocks.{i}.attn.rel_pos_h`` / ``rel_pos_w`` (``(2 * s - 1, D / heads)`` with ``s`` the window size in
  window blocks and ``img_size / p`` in global blocks; ``use_rel_pos=True``), ``blocks.{i}.norm2``,
  ``blocks.{i}.mlp.fc1`` / ``mlp.fc2``;
- no [CLS] token and no final norm.

In a detector's state dict the ViT sits at ``backbone.`` in mmdet (``model.backbone = ViT``, the pyramid
is ``neck``) and at ``backbone.net.`` in detectron2 (``SimpleFeaturePyramid(net=ViT(...))``). The files
written here hold only the backbone, under those prefixes (mmengine's ``{"state_dict": ...}``,
detectron2's ``{"model": ...}``), so ``load_from`` / ``train.init_checkpoint`` start the detector from
them; heads and pyramid start fresh, as when those projects load an MAE checkpoint. Relative position
tables come from the source when it has them (a ``colormae detect`` backbone, resized linearly to each
block's length) and are zero otherwise (``rel_pos_zero_init=True``, what both projects do for MAE).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from colormae.dense.detect.backbone import WINDOW_SIZE, global_blocks, resize_rel_pos
from colormae.errors import UserError
from colormae.models import MAEConfig

#: Layout name -> prefix of the ViT in that project's detector state dict.
PREFIXES = {"mmdet-vitdet": "backbone.", "detectron2-vitdet": "backbone.net."}
_BLOCK = ("norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
          "attn.proj.bias",
          "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias")


def _flat_pos_embed(pos: Tensor) -> Tensor:
    """``(1, [1 +] N, D)`` or a ViTDet-style ``(1, h, w, D)`` grid as ``(1, 1 + N, D)`` with a [CLS] slot."""
    if pos.ndim == 4:
        flat = pos.reshape(1, -1, pos.shape[-1])
        return torch.cat([torch.zeros_like(flat[:, :1]), flat], 1)
    side = round((pos.shape[1] - 1) ** 0.5)
    if side * side == pos.shape[1] - 1:
        return pos
    return torch.cat([torch.zeros_like(pos[:, :1]), pos], 1)  # no [CLS] entry: add the slot


def vitdet_backbone(encoder: dict[str, Tensor], config: MAEConfig, layout: str, *, img_size: int = 1024,
                    window_size: int = WINDOW_SIZE, global_indexes: tuple[int, ...] | None = None
                    ) -> dict[str, Tensor]:
    """The ViT of ``layout`` (``mmdet-vitdet`` or ``detectron2-vitdet``) from a timm-ViT encoder state dict
    (an MAE's ``encoder``, or a ``colormae detect`` backbone's ``vit``), keys with the project's prefix.

    ``img_size`` and ``window_size`` size the relative position tables as the target config builds them
    (ViTDet ViT-B: 1024 and 14, global blocks 2, 5, 8, 11).
    """
    if layout not in PREFIXES:
        raise UserError(f"unknown ViTDet layout {layout!r}: expected one of {', '.join(PREFIXES)}")
    if img_size % config.patch_size:
        raise UserError(f"img_size {img_size} is not a multiple of the patch size {config.patch_size}")
    prefix = PREFIXES[layout]
    glob = set(global_blocks(config.depth) if global_indexes is None else global_indexes)
    head_dim = config.embed_dim // config.num_heads
    grid = img_size // config.patch_size
    out: dict[str, Tensor] = {}
    for key in ("patch_embed.proj.weight", "patch_embed.proj.bias", "pos_embed"):
        if key not in encoder:
            raise UserError(f"the encoder has no {key!r}")
    out[prefix + "patch_embed.proj.weight"] = encoder["patch_embed.proj.weight"]
    out[prefix + "patch_embed.proj.bias"] = encoder["patch_embed.proj.bias"]
    out[prefix + "pos_embed"] = _flat_pos_embed(encoder["pos_embed"])
    for i in range(config.depth):
        for name in _BLOCK:
            key = f"blocks.{i}.{name}"
            if key not in encoder:
                raise UserError(f"the encoder has no {key!r}")
            out[f"{prefix}{key}"] = encoder[key]
        length = 2 * (grid if i in glob else window_size) - 1
        for axis in ("h", "w"):
            key = f"blocks.{i}.attn.rel_pos_{axis}"
            table = encoder.get(key)
            out[f"{prefix}{key}"] = (resize_rel_pos(table, length) if table is not None
                                     else torch.zeros(length, head_dim, dtype=encoder["pos_embed"].dtype))
    return {k: v.detach().clone().contiguous() for k, v in out.items()}


def vitdet_checkpoint(encoder: dict[str, Tensor], config: MAEConfig, layout: str, **kwargs: Any
                      ) -> dict[str, Any]:
    """What to ``torch.save`` for ``layout``: mmengine's ``{"state_dict", "meta"}`` or detectron2's
    ``{"model", "__author__"}`` around :func:`vitdet_backbone` (``kwargs`` go to it)."""
    sd = vitdet_backbone(encoder, config, layout, **kwargs)
    if layout == "mmdet-vitdet":
        return {"state_dict": sd, "meta": {"converted_by": "colormae", "layout": layout}}
    return {"model": sd, "__author__": "colormae"}
