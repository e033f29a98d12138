"""Recovering an :class:`~colormae.models.MAEConfig` from the shapes in a state dict (our key names).

Widths, depths, patch size, channels, image size (square grid assumed) and MLP ratio follow from tensor
shapes. Head counts do not: a config matching a preset in every shape takes that preset's head counts,
otherwise 64-wide heads are assumed (ViT-Ti/S/B/L; ViT-H uses 80, the paper's decoder 32), and
``overrides`` (``num_heads=...``) win over both.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, fields, replace
from typing import Any

from torch import Tensor

from colormae.convert.reading import ConversionError
from colormae.models import PRESETS, MAEConfig

_KNOWN_HEADS = {1280: 16}           # ViT-H/14: 80-wide heads
_KNOWN_DECODER_HEADS = {512: 16}    # the paper's decoder: 512 wide, 16 heads


def _count_blocks(sd: dict[str, Tensor], prefix: str) -> int:
    pat = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.")
    ids = {int(m.group(1)) for k in sd if (m := pat.match(k))}
    return max(ids) + 1 if ids else 0


def _need(sd: dict[str, Tensor], key: str) -> Tensor:
    if key not in sd:
        raise ConversionError(f"cannot infer the model shape: key {key!r} is missing")
    return sd[key]


def infer_config(sd: dict[str, Tensor], *, with_decoder: bool = True, **overrides: Any) -> MAEConfig:
    """The :class:`MAEConfig` whose :class:`MaskedAutoencoder` has ``sd``'s shapes (our key names).

    With ``with_decoder=False`` (an encoder-only source such as a timm ViT) the decoder sizes come from
    ``overrides`` or the paper's defaults (8 blocks x 512, 16 heads).
    """
    proj = _need(sd, "encoder.patch_embed.proj.weight")          # (D, C, p, p)
    embed_dim, in_chans, patch, _ = proj.shape
    pos = _need(sd, "encoder.pos_embed")                          # (1, 1 + L, D)
    side = math.isqrt(pos.shape[1] - 1)
    if side * side != pos.shape[1] - 1:
        raise ConversionError(f"encoder.pos_embed has {pos.shape[1] - 1} patch positions, not a square grid; "
                              "pass the model config explicitly")
    fc1 = _need(sd, "encoder.blocks.0.mlp.fc1.weight")            # (hidden, D)
    shape: dict[str, Any] = {
        "img_size": side * patch, "patch_size": patch, "in_chans": in_chans, "embed_dim": embed_dim,
        "depth": _count_blocks(sd, "encoder.blocks"), "mlp_ratio": fc1.shape[0] / embed_dim,
    }
    if with_decoder:
        shape["decoder_embed_dim"] = _need(sd, "decoder_embed.weight").shape[0]
        shape["decoder_depth"] = _count_blocks(sd, "decoder_blocks")
    heads = {
        "num_heads": _KNOWN_HEADS.get(embed_dim, max(embed_dim // 64, 1)),
        "decoder_num_heads": _KNOWN_DECODER_HEADS.get(shape.get("decoder_embed_dim", 512),
                                                      max(shape.get("decoder_embed_dim", 512) // 64, 1)),
    }
    for preset in PRESETS.values():
        p = asdict(preset)
        if all(p[k] == v for k, v in shape.items()):
            heads = {"num_heads": preset.num_heads, "decoder_num_heads": preset.decoder_num_heads}
            if not with_decoder:
                shape.update({k: p[k] for k in ("decoder_embed_dim", "decoder_depth")})
            break
    if shape["mlp_ratio"] == int(shape["mlp_ratio"]):
        shape["mlp_ratio"] = float(int(shape["mlp_ratio"]))
    known = {f.name for f in fields(MAEConfig)}
    bad = sorted(set(overrides) - known)
    if bad:
        raise ConversionError(f"unknown model config key(s): {', '.join(bad)}")
    return replace(MAEConfig(), **{**shape, **heads, **overrides})
