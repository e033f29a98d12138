"""A timm ViT classifier built from an MAE encoder, and loading fine-tuned checkpoints back.

The classifier is a plain ``timm.models.vision_transformer.VisionTransformer`` with the encoder's shapes
(so every timm tool applies: layer decay, EMA, ``forward_features``) and a fresh head. Pooling follows
MAE fine-tuning (He et al. 2022, A.3): ``"avg"`` = mean of patch tokens then a fresh ``fc_norm``
LayerNorm (the encoder's final norm is dropped), ``"token"`` = [CLS] after the encoder's final norm.
Head weights start at ``trunc_normal(std=2e-5)`` as in MAE.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from timm.models.vision_transformer import VisionTransformer
from torch import nn

from colormae.errors import UserError
from colormae.models import MAEConfig, MaskedAutoencoder
from colormae.models.vit import build_vit

POOLS = ("avg", "token")


def vit_classifier(config: MAEConfig, num_classes: int, *, global_pool: str = "avg",
                   drop_path_rate: float = 0.0) -> VisionTransformer:
    """A freshly initialised timm ViT with the encoder shapes of ``config`` and a ``num_classes`` head."""
    if global_pool not in POOLS:
        raise UserError(f"--global-pool must be one of {', '.join(POOLS)}, got {global_pool!r}")
    if num_classes < 1:
        raise UserError(f"a classifier needs at least one class, got {num_classes}")
    return build_vit(config, num_classes=num_classes, global_pool=global_pool, drop_path_rate=drop_path_rate)


def classifier_from_mae(mae: MaskedAutoencoder, num_classes: int, *, global_pool: str = "avg",
                        drop_path_rate: float = 0.0) -> VisionTransformer:
    """Copy ``mae.encoder``'s weights into a :func:`vit_classifier` (head and ``fc_norm`` start fresh).

    With ``global_pool="avg"`` the encoder's final ``norm`` is not used (timm makes it an Identity).
    """
    model = vit_classifier(mae.config, num_classes, global_pool=global_pool, drop_path_rate=drop_path_rate)
    enc = {k: v for k, v in mae.encoder.state_dict().items() if not k.startswith("head")}
    if global_pool == "avg":
        enc = {k: v for k, v in enc.items() if not k.startswith("norm.")}
    missing, unexpected = model.load_state_dict(enc, strict=False)
    fresh = {k for k in missing if k.startswith(("head.", "fc_norm."))}
    if set(missing) - fresh or unexpected:
        raise UserError(f"encoder does not fit the classifier: missing {sorted(set(missing) - fresh)[:5]}, "
                        f"unexpected {sorted(unexpected)[:5]}")
    nn.init.trunc_normal_(model.head.weight, std=2e-5)
    nn.init.zeros_(model.head.bias)
    return model


def classifier_config(config: MAEConfig, num_classes: int, global_pool: str) -> dict[str, Any]:
    """``model_config`` of a fine-tuning checkpoint: the MAE config + ``num_classes`` + ``global_pool``."""
    return {**asdict(config), "num_classes": num_classes, "global_pool": global_pool}
