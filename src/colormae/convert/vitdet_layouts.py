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
- no [CLS] token and no final norm;

so the block names are timm's own (:data:`colormae.convert.layouts.TIMM`), copied as they are.

In a detector's state dict the ViT sits at ``backbone.`` in mmdet (``model.backbone = ViT``, the pyramid
is ``neck``) and at ``backbone.net.`` in detectron2 (``SimpleFeaturePyramid(net=ViT(...))``). The files
written here hold only the backbone; heads and pyramid start fresh, as when those projects load an MAE
checkpoint:

- mmdet-vitdet serves both of mmdet's routes from one file. ``model.backbone.init_cfg=dict(
  type='Pretrained', checkpoint=FILE)`` (the official one) runs ``ViT.init_weights``, which reads
  ``ckpt["model"]`` with bare keys (what the official ColorMAE ``mmpre2mmdet.py`` writes) and calls
  ``load_state_dict(..., False)``; ``load_from=FILE`` makes mmengine read ``ckpt["state_dict"]`` into the
  whole detector. So the file is ``{"model": bare keys, "state_dict": backbone.* keys, "meta"}``, both
  holding the same tensors (stored once).
- detectron2-vitdet is ``{"model": backbone.net.* keys}`` for ``train.init_checkpoint``.

``pos_embed`` stays on the pretraining grid (ViT's ``pretrain_img_size``, 224 by default: 197 tokens; both
projects interpolate it to the input grid at every forward). Relative position tables come from the source
when it has them (a ``colormae detect`` backbone, resized linearly to each block's length) and are zero
otherwise (``rel_pos_zero_init=True``, what both projects do for MAE), sized for ``img_size`` and
``window_size`` as the target config builds them (1024 and 14 in the official config).
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
                    window_size: int = WINDOW_SIZE, global_indexes: tuple[int, ...] | None = None,
                    prefix: str | None = None) -> dict[str, Tensor]:
    """The ViT of ``layout`` (``mmdet-vitdet`` or ``detectron2-vitdet``) from a timm-ViT encoder state dict
    (an MAE's ``encoder``, or a ``colormae detect`` backbone's ``vit``), keys with the project's prefix.

    ``img_size`` and ``window_size`` size the relative position tables as the target config builds them
    (ViTDet ViT-B: 1024 and 14, global blocks 2, 5, 8, 11). ``prefix`` replaces the project's prefix
    (``""``: the bare keys ``ViT.init_weights`` reads).
    """
    if layout not in PREFIXES:
        raise UserError(f"unknown ViTDet layout {layout!r}: expected one of {', '.join(PREFIXES)}")
    if img_size % config.patch_size:
        raise UserError(f"img_size {img_size} is not a multiple of the patch size {config.patch_size}")
    prefix = PREFIXES[layout] if prefix is None else prefix
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


def vitdet_checkpoint(encoder: dict[str, Tensor], config: MAEConfig, layout: str, *,
                      data: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """What to ``torch.save`` for ``layout`` (see the module docstring) around :func:`vitdet_backbone`
    (``kwargs`` go to it); ``data`` (normalisation) goes into the meta."""
    if layout != "mmdet-vitdet":
        return {"model": vitdet_backbone(encoder, config, layout, **kwargs), "__author__": "colormae"}
    bare = vitdet_backbone(encoder, config, layout, prefix="", **kwargs)
    grid = round((bare["pos_embed"].shape[1] - 1) ** 0.5)
    meta: dict[str, Any] = {
        "converted_by": "colormae", "layout": layout, "backbone": "mmdet projects/ViTDet ViT",
        "routes": {"init_cfg": "ckpt['model']: bare keys (mmpre2mmdet.py layout), read by ViT.init_weights",
                   "load_from": "ckpt['state_dict']: backbone.* keys"},
        "pretrain_img_size": grid * config.patch_size, "patch_size": config.patch_size,
        "layer_norm_eps": config.layer_norm_eps,
    }
    if data:
        meta["data"] = data
    return {"model": bare, "state_dict": {f"backbone.{k}": v for k, v in bare.items()}, "meta": meta}


def vitdet_notes(config: MAEConfig, layout: str) -> list[str]:
    """What a user of a ViTDet file must set beyond the official config (the position grid, epsilon)."""
    notes = []
    if layout == "mmdet-vitdet":
        notes.append("the official vitdet_mask-rcnn_vit-b-mae_lsj-100e.py builds the ViT's LayerNorms with "
                     "dict(type='LN') (torch's eps 1e-5); model.backbone.norm_cfg.eps=1e-6 gives the "
                     "features the MAE was trained with")
    side = config.image_hw[0]
    if config.image_hw[0] != config.image_hw[1]:
        notes.append(f"the pretraining grid is not square ({config.image_hw}): ViTDet's get_abs_pos "
                     "expects a square one")
    elif side != 224:
        key = "model.backbone.pretrain_img_size" if layout == "mmdet-vitdet" else "model.backbone.net." \
            "pretrain_img_size"
        notes.append(f"pos_embed is for {side} px inputs: set {key}={side} (the config's default is 224)")
    if config.layer_norm_eps != 1e-6:
        notes.append(f"the encoder's LayerNorm epsilon is {config.layer_norm_eps:g}, ViTDet's is 1e-6")
    return notes
