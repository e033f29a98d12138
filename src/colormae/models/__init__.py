"""The masked autoencoder: a timm ViT encoder, a light decoder, presets (see ``docs/architecture.md``)."""

from colormae.models.config import MAEConfig
from colormae.models.mae import MAEOutput, MaskedAutoencoder
from colormae.models.patchify import patchify, unpatchify
from colormae.models.pos_embed import sincos_2d
from colormae.models.presets import PRESETS, create_mae, resolve_config

__all__ = [
    "MAEConfig", "MAEOutput", "MaskedAutoencoder", "PRESETS", "create_mae", "patchify", "resolve_config",
    "sincos_2d", "unpatchify",
]
