"""Named model sizes and :func:`create_mae`.

The 224-px presets are the standard ViT sizes (Dosovitskiy et al.; DeiT for Tiny/Small) with the paper's
decoder: 8 blocks, 512 wide, 16 heads (ColorMAE supplementary, after MAE). The 32-px presets are for CPU
work: ``mae_vit_tiny_32px`` is the demo model, ``mae_vit_micro_32px`` is for tests.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from colormae.errors import UserError
from colormae.models.config import MAEConfig
from colormae.models.mae import MaskedAutoencoder

_PAPER_DECODER = {"decoder_embed_dim": 512, "decoder_depth": 8, "decoder_num_heads": 16}

PRESETS: dict[str, MAEConfig] = {
    "mae_vit_tiny_patch16": MAEConfig(embed_dim=192, depth=12, num_heads=3, **_PAPER_DECODER),
    "mae_vit_small_patch16": MAEConfig(embed_dim=384, depth=12, num_heads=6, **_PAPER_DECODER),
    "mae_vit_base_patch16": MAEConfig(embed_dim=768, depth=12, num_heads=12, **_PAPER_DECODER),
    "mae_vit_large_patch16": MAEConfig(embed_dim=1024, depth=24, num_heads=16, **_PAPER_DECODER),
    "mae_vit_huge_patch14": MAEConfig(
        patch_size=14, embed_dim=1280, depth=32, num_heads=16, **_PAPER_DECODER
    ),
    # CPU demo: 32 px images, 4 px patches (8x8 grid), a narrow ViT and a light decoder: a step of batch
    # 64 at ratio 0.75 costs ~2.2 GMAC forward (timings: README, benchmarks/pretrain.py).
    "mae_vit_tiny_32px": MAEConfig(
        img_size=32, patch_size=4, embed_dim=128, depth=6, num_heads=4,
        decoder_embed_dim=96, decoder_depth=2, decoder_num_heads=3,
    ),
    # Tests: as small as still makes sense.
    "mae_vit_micro_32px": MAEConfig(
        img_size=32, patch_size=4, embed_dim=64, depth=2, num_heads=4,
        decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2,
    ),
}


def resolve_config(name_or_config: str | MAEConfig, **overrides: Any) -> MAEConfig:
    """The :class:`MAEConfig` of a preset name (or a config), with fields replaced by ``overrides``."""
    if isinstance(name_or_config, MAEConfig):
        base = name_or_config
    elif name_or_config in PRESETS:
        base = PRESETS[name_or_config]
    else:
        raise UserError(f"unknown model {name_or_config!r}; choose one of: {', '.join(PRESETS)}")
    known = {f.name for f in fields(MAEConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise UserError(f"unknown model config key {unknown[0]!r}; known keys: {', '.join(sorted(known))}")
    return replace(base, **overrides)


def create_mae(name_or_config: str | MAEConfig, **overrides: Any) -> MaskedAutoencoder:
    """Build a freshly initialised :class:`MaskedAutoencoder` from a preset name or a config.

    Example: ``create_mae("mae_vit_base_patch16", norm_pix_loss=False)``.
    """
    return MaskedAutoencoder(resolve_config(name_or_config, **overrides))
