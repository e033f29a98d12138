"""EigenCAM maps of a ViT (supplement Fig. 5) through the grad-cam package.

EigenCAM projects the target layer's activations on their first principal component, so it needs no
class and no gradients and works for a pre-trained encoder as well as a fine-tuned classifier. The
target layer is the last block's ``norm1`` and the tokens are reshaped to the patch grid ([CLS] and
other prefix tokens dropped), as in grad-cam's ViT tutorial.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from torch import Tensor, nn

from colormae.extras import require
from colormae.viz.attention import find_vit
from colormae.viz.style import overlay_figure


def vit_reshape_transform(num_prefix_tokens: int, grid: tuple[int, int]) -> Callable[[Tensor], Tensor]:
    """Tokens ``(B, prefix + L, D)`` -> feature map ``(B, D, grid_h, grid_w)`` for grad-cam."""
    gh, gw = grid

    def transform(tokens: Tensor) -> Tensor:
        x = tokens[:, num_prefix_tokens:]
        return x.reshape(x.shape[0], gh, gw, x.shape[-1]).permute(0, 3, 1, 2)

    return transform


def _cam_target(model: nn.Module) -> nn.Module:
    """The module grad-cam calls: the classifier when fine-tuned, else the MAE's encoder (features only)."""
    vit = find_vit(model)
    return vit if getattr(model, "encoder", None) is vit else model


def eigen_cam(model: nn.Module, images: Tensor) -> np.ndarray:
    """EigenCAM of ``images (B, C, H, W)`` -> ``(B, H, W)`` floats in [0, 1], one map per image.

    ``model`` is a :class:`~colormae.models.MaskedAutoencoder` (its encoder is used, no masking) or any
    fine-tuned classifier holding a timm ``VisionTransformer``. The model is watched through grad-cam's
    hooks only; its training mode is restored afterwards.
    """
    EigenCAM = require("pytorch_grad_cam", extra="viz", feature="EigenCAM").EigenCAM

    vit = find_vit(model)
    target = _cam_target(model)
    was_training = target.training
    transform = vit_reshape_transform(vit.num_prefix_tokens, tuple(vit.patch_embed.grid_size))
    device = next(target.parameters()).device
    try:
        with EigenCAM(model=target, target_layers=[vit.blocks[-1].norm1], reshape_transform=transform) as cam:
            maps = cam(input_tensor=images.to(device), targets=None)
    finally:
        target.train(was_training)
    return np.asarray(maps, dtype=np.float32)


def cam_figure(models: nn.Module | Mapping[str, nn.Module], images: Tensor, out_path: str | Path, *,
               norm=None, bands: tuple[int, ...] | None = None) -> Path:
    """Draw EigenCAM overlays of ``images`` (N, C, H, W, normalised with ``norm``: default ImageNet;
    ``bands`` chooses what is shown of multi-band images), as Fig. 5.

    One column per image; rows: the images, then one row of overlays per model (``{name: model}`` to
    compare pre-trainings). Returns ``out_path``.
    """
    return overlay_figure(models, images, out_path, eigen_cam, "EigenCAM", norm=norm, bands=bands)


