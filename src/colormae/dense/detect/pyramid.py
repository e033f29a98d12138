"""ViTDet's simple feature pyramid on the last ViT map, as a torchvision detection backbone.

Neither torchvision (its ``FeaturePyramidNetwork`` needs a multi-stage CNN) nor timm has ViTDet's simple
feature pyramid, so it is written here after Li et al. 2022 (detectron2 ``SimpleFeaturePyramid``, mmdet
``SimpleFPN``): from the last block's map at stride ``p`` (the patch size), scale 4 = two stride-2
transposed convs with LayerNorm + GELU between, scale 2 = one transposed conv, scale 1 = identity,
scale 0.5 = 2x2 max-pool; each followed by a 1x1 and a 3x3 conv to ``out_channels`` (256), each with
LayerNorm (timm ``LayerNorm2d``) and no bias; plus a top level from the coarsest map by a stride-2
1x1 max-pool (torchvision's ``LastLevelMaxPool``). For ViT-B/16: strides 4, 8, 16, 32, 64.
"""

from __future__ import annotations

from collections import OrderedDict

import torch.nn.functional as F
from timm.layers import LayerNorm2d
from torch import Tensor, nn

from colormae.errors import UserError

#: ViTDet's scales (strides p/4, p/2, p, 2p for patch size p).
SCALES: tuple[float, ...] = (4.0, 2.0, 1.0, 0.5)


def _stage(dim: int, scale: float, out_channels: int) -> nn.Sequential:
    if scale == 4.0:
        layers: list[nn.Module] = [nn.ConvTranspose2d(dim, dim // 2, 2, stride=2), LayerNorm2d(dim // 2),
                                   nn.GELU(), nn.ConvTranspose2d(dim // 2, dim // 4, 2, stride=2)]
        width = dim // 4
    elif scale == 2.0:
        layers, width = [nn.ConvTranspose2d(dim, dim // 2, 2, stride=2)], dim // 2
    elif scale == 1.0:
        layers, width = [], dim
    elif scale == 0.5:
        layers, width = [nn.MaxPool2d(2, stride=2)], dim
    else:
        raise UserError(f"pyramid_scales: {scale} is not one of 4, 2, 1, 0.5")
    layers += [nn.Conv2d(width, out_channels, 1, bias=False), LayerNorm2d(out_channels),
               nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), LayerNorm2d(out_channels)]
    return nn.Sequential(*layers)


class SimpleFeaturePyramid(nn.Module):
    """``(B, D, h, w)`` -> ordered ``{"0": finest, ..., "pool": coarsest / 2}``, ``out_channels`` wide."""

    def __init__(self, dim: int, scales: tuple[float, ...] = SCALES, out_channels: int = 256) -> None:
        super().__init__()
        scales = tuple(float(s) for s in scales)
        if list(scales) != sorted(scales, reverse=True) or len(set(scales)) != len(scales) or not scales:
            raise UserError(f"pyramid_scales: {scales} must be distinct and decreasing (e.g. 4, 2, 1, 0.5)")
        self.scales = scales
        self.stages = nn.ModuleList([_stage(dim, s, out_channels) for s in scales])
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        feats = OrderedDict((str(i), stage(x)) for i, stage in enumerate(self.stages))
        feats["pool"] = F.max_pool2d(feats[str(len(self.stages) - 1)], 1, 2)
        return feats


class ViTDetBackbone(nn.Module):
    """ViT + simple feature pyramid: ``images (B, 3, H, W) -> {level: (B, out_channels, H / s, W / s)}``.

    ``out_channels`` and the level names are what torchvision's ``FasterRCNN`` / ``MaskRCNN`` expect.
    """

    def __init__(self, vit: nn.Module, patch_size: int, scales: tuple[float, ...] = SCALES,
                 out_channels: int = 256) -> None:
        super().__init__()
        self.vit = vit
        self.patch_size = patch_size
        self.pyramid = SimpleFeaturePyramid(vit.embed_dim, scales, out_channels)
        self.out_channels = out_channels

    @property
    def strides(self) -> list[float]:
        """Stride in pixels of each output level, the top (pooled) level last."""
        strides = [self.patch_size / s for s in self.pyramid.scales]
        return [*strides, strides[-1] * 2]

    def forward(self, images: Tensor) -> OrderedDict[str, Tensor]:
        return self.pyramid(self.vit.forward_features(images))
