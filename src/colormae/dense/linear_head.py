"""The linear dense probe's head (DINOv2's ``lin.`` segmentation protocol): the patch-token maps of the
chosen encoder blocks, concatenated, BatchNorm, dropout, and a 1x1 convolution to class logits at the
patch grid; the segmentor upsamples them bilinearly to the input size.

With a frozen encoder it measures what the features themselves hold at each patch: unlike the pyramid
and UperNet (which learn convolutions over the maps and can decode raw pixels from a random encoder), it
can only read each token linearly. Written by hand: it is three layers, and neither timm nor
transformers ships it as a module of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class LinearHead(nn.Module):
    """``[(B, D_i, h, w)]`` -> logits ``(B, K, h, w)``.

    Args:
        in_channels: ``D_i`` of each map (concatenated: ``sum(D_i)`` features per patch).
        num_classes: ``K``.
        dropout: dropout (2-D) before the classifier.
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        width = sum(in_channels)
        self.norm = nn.BatchNorm2d(width)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Conv2d(width, num_classes, kernel_size=1)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        x = torch.cat(list(features), dim=1)                               # (B, sum D_i, h, w)
        return self.classifier(self.dropout(self.norm(x)))                 # (B, K, h, w)
