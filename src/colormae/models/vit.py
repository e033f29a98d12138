"""The one place a timm ViT is built from an :class:`~colormae.models.config.MAEConfig`.

Every network that holds an encoder (the MAE's ``encoder``, the fine-tuning classifier, the segmentation
backbone, the ViTDet detection backbone) takes its timm arguments from :func:`vit_kwargs`, so all of them
have the config's shapes: ``img_size``, ``patch_size``, ``in_chans``, ``embed_dim``, ``depth``,
``num_heads``, ``mlp_ratio``, qkv bias (MAE's ViTs always have it) and the LayerNorm epsilon
``layer_norm_eps`` (1e-6 as MAE / timm, 1e-12 for an encoder imported from Hugging Face). Callers add
what is theirs (head, pooling, drop path, layer scale, window attention, another input size).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from timm.models.vision_transformer import VisionTransformer
from torch import nn

from colormae.models.config import MAEConfig

#: timm arguments that come from the config alone (a caller may not override them).
_FROM_CONFIG = ("patch_size", "in_chans", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias",
                "norm_layer")


def vit_kwargs(config: MAEConfig, **timm_kwargs: Any) -> dict[str, Any]:
    """The keyword arguments of a timm ViT (``VisionTransformer`` or ``VisionTransformerSAM``) with
    ``config``'s encoder shapes, plus ``timm_kwargs`` (which may set ``img_size``: a crop, a detection
    size; default ``config.image_hw``)."""
    clash = sorted(set(timm_kwargs) & set(_FROM_CONFIG))
    if clash:
        raise TypeError(f"vit_kwargs: {clash} come from the MAEConfig, not from the caller")
    return {
        "img_size": config.image_hw, "patch_size": config.patch_size, "in_chans": config.in_chans,
        "embed_dim": config.embed_dim, "depth": config.depth, "num_heads": config.num_heads,
        "mlp_ratio": config.mlp_ratio, "qkv_bias": True,
        "norm_layer": partial(nn.LayerNorm, eps=config.layer_norm_eps), **timm_kwargs,
    }


def build_vit(config: MAEConfig, **timm_kwargs: Any) -> VisionTransformer:
    """A timm ``VisionTransformer`` of :func:`vit_kwargs`: ``images (B, C, H, W)`` ->
    ``forward_features`` ``(B, [1 +] L, D)``."""
    return VisionTransformer(**vit_kwargs(config, **timm_kwargs))


def use_fused_attention(model: nn.Module) -> None:
    """Make every timm attention module of ``model`` call ``F.scaled_dot_product_attention`` (timm may turn
    it off by environment variable; SAM's blocks take the relative-position bias as a float mask there)."""
    for module in model.modules():
        if hasattr(module, "fused_attn"):
            module.fused_attn = True
