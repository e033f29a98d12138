"""Our encoder as mmseg's ``MAE`` backbone (``mmseg/models/backbones/mae.py``), in a file both of mmseg's
loading routes read: ``colormae convert --to mmseg``.

What the module declares (mmseg 1.2.2; ``tests/convert/fixtures/mmseg_mae_vit_base_512.json`` lists a
ViT-B's keys): ``cls_token``, ``pos_embed`` ``(1, 1 + (img_size / p) ** 2, D)``, ``patch_embed.projection``
(a conv) and per block ``layers.{i}.ln1``, ``attn.qkv`` (one Linear ``D -> 3D`` with a full bias: ``MAE``
builds its layers with ``bias=True``, unlike BEiT's ``q_bias`` / ``v_bias``), ``attn.proj``, ``ln2``,
``ffn.layers.0.0`` (fc1), ``ffn.layers.1`` (fc2). Names come from :data:`colormae.convert.layouts.MMSEG`.
Not in any MAE checkpoint, so not written, and kept at mmseg's initialisation:

- ``gamma_1`` / ``gamma_2`` (layer scale) start at ``init_values``; the official ColorMAE config sets
  ``init_values=1.0``, so mmseg's blocks compute exactly our encoder's blocks until fine-tuning moves them
  (mmseg's own default, 0.1, would scale every residual branch);
- ``attn.relative_position_bias_table`` starts at zero (``MAEAttention.init_weights`` keeps it), which adds
  nothing to the attention logits: exact;
- the final norm is not used (``final_norm=False``) and not written.

The two routes (one file serves both):

- ``init_cfg`` / ``model.pretrained`` (the official one): ``MAE.init_weights`` takes ``ckpt["state_dict"]``
  (or the whole file), reads bare keys as the official ``mmpre2mmseg.py`` writes them, and resizes a square
  ``pos_embed`` itself (``MAE.resize_abs_pos_embed``: plain bicubic, ``align_corners=False``). So the bare
  ``pos_embed`` stays on the pretraining grid (resized here, the same way, only when that grid is not
  square, which mmseg cannot resize).
- ``load_from``: mmengine loads ``ckpt["state_dict"]`` into the whole segmentor, where the backbone sits at
  ``backbone.``, and skips tensors of another shape; so the same tensors are also stored under
  ``backbone.`` with ``pos_embed`` resized (as mmseg would) to the grid of the target ``img_size`` (512 px
  in the official config: 32 x 32 + 1 tokens). mmengine lists the bare keys as unexpected there, and
  ``MAE.load_state_dict(..., strict=False)`` ignores the ``backbone.`` ones on the other route.
"""

from __future__ import annotations

from typing import Any

from timm.layers import resample_abs_pos_embed
from torch import Tensor

from colormae.convert.layouts import MMSEG
from colormae.errors import UserError
from colormae.models import MAEConfig

#: The input size of the official ColorMAE / mmseg MAE UperNet config (``img_size=(512, 512)``).
MMSEG_IMG_SIZE = 512


def resize_pos_embed(pos: Tensor, grid: tuple[int, int], src_grid: tuple[int, int]) -> Tensor:
    """``(1, 1 + h * w, D)`` -> ``(1, 1 + H * W, D)`` for ``grid = (H, W)``, [CLS] entry kept: plain bicubic,
    ``align_corners=False``, no antialiasing, as mmseg's ``resize_abs_pos_embed`` / ``resize_pos_embed``."""
    if tuple(grid) == tuple(src_grid):
        return pos
    return resample_abs_pos_embed(pos, list(grid), list(src_grid), num_prefix_tokens=1, antialias=False)


def mmseg_state_dict(encoder: dict[str, Tensor], *, prefix: str = "") -> dict[str, Tensor]:
    """A timm-ViT encoder state dict as mmseg ``MAE`` backbone keys (``prefix`` e.g. ``"backbone."``);
    the final norm is left out. Tensors are shared with ``encoder``."""
    ours = {f"encoder.{k}": v for k, v in encoder.items() if not k.startswith(("norm.", "head", "fc_norm"))}
    return {prefix + k: v for k, v in MMSEG.from_ours(ours).items()}


def mmseg_checkpoint(encoder: dict[str, Tensor], config: MAEConfig, *, img_size: int = MMSEG_IMG_SIZE,
                     data: dict[str, Any] | None = None) -> dict[str, Any]:
    """What to ``torch.save`` for ``--to mmseg``: ``{"state_dict": bare keys + backbone.* keys, "meta"}``
    (see the module docstring; ``img_size`` is the target config's ``img_size`` for ``load_from``)."""
    if img_size % config.patch_size:
        raise UserError(f"img_size {img_size} is not a multiple of the patch size {config.patch_size}")
    src_grid = tuple(s // config.patch_size for s in config.image_hw)
    side = img_size // config.patch_size
    bare = {k: v.detach().clone().contiguous() for k, v in mmseg_state_dict(encoder).items()}
    if src_grid[0] != src_grid[1]:  # mmseg resizes square grids only
        bare["pos_embed"] = resize_pos_embed(bare["pos_embed"], (side, side), src_grid)
    prefixed = {f"backbone.{k}": v for k, v in bare.items()}  # the same tensors: stored once
    prefixed["backbone.pos_embed"] = resize_pos_embed(encoder["pos_embed"], (side, side), src_grid)
    meta = {
        "converted_by": "colormae", "layout": "mmseg", "backbone": "mmseg MAE",
        "routes": {
            "init_cfg": "bare keys (mmpre2mmseg.py layout); pos_embed on the pretraining grid "
                        f"{src_grid[0]}x{src_grid[1]}, resized by MAE.resize_abs_pos_embed",
            "load_from": f"backbone.* keys; pos_embed resized to {side}x{side} for img_size={img_size}",
        },
        "img_size": img_size, "pretrain_img_size": list(config.image_hw), "patch_size": config.patch_size,
        "layer_norm_eps": config.layer_norm_eps,
    }
    if data:
        meta["data"] = data
    return {"state_dict": {**bare, **prefixed}, "meta": meta}


def mmseg_notes(config: MAEConfig, img_size: int = MMSEG_IMG_SIZE) -> list[str]:
    """What a user of the mmseg file must know beyond the config lines."""
    notes = ["mmseg MAE backbone: build it with init_values=1.0 (the official ColorMAE config) for the "
             "pretrained blocks to compute what ours do; layer scale and relative position bias are not "
             "in MAE weights and start at mmseg's initialisation"]
    if config.layer_norm_eps != 1e-6:
        notes.append(f"the encoder's LayerNorm epsilon is {config.layer_norm_eps:g}: set "
                     f"model.backbone.norm_cfg=dict(type='LN', eps={config.layer_norm_eps:g})")
    if img_size != MMSEG_IMG_SIZE:
        notes.append(f"backbone.pos_embed (load_from) is sized for img_size={img_size}")
    return notes
