"""The ViT-to-pyramid adapter (mmseg's ``Feature2Pyramid`` neck, as the official ColorMAE / MAE UperNet
configs use it): four same-resolution ViT maps become a 4-level pyramid by rescales x4 (two stride-2
transposed convs with BatchNorm + GELU between), x2 (one), x1 (identity), x0.5 (2x2 max-pool).

Written by hand: neither timm, torchvision, transformers nor segmentation_models_pytorch ships this
adapter (it is ~20 lines).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

RESCALES = (4.0, 2.0, 1.0, 0.5)


class Feature2Pyramid(nn.Module):
    """``[(B, D, h, w)] * 4`` -> ``[(B, D, 4h, 4w), (B, D, 2h, 2w), (B, D, h, w), (B, D, h/2, w/2)]``.

    Module names follow mmseg (``upsample_4x``, ``upsample_2x``, ``identity``, ``maxpool``).
    """

    def __init__(self, embed_dim: int, rescales: Sequence[float] = RESCALES) -> None:
        super().__init__()
        self.rescales = tuple(rescales)
        self.ops = nn.ModuleList()
        for k in self.rescales:
            if k == 4:
                op: nn.Module = nn.Sequential(
                    nn.ConvTranspose2d(embed_dim, embed_dim, 2, 2), nn.BatchNorm2d(embed_dim), nn.GELU(),
                    nn.ConvTranspose2d(embed_dim, embed_dim, 2, 2))
            elif k == 2:
                op = nn.ConvTranspose2d(embed_dim, embed_dim, 2, 2)
            elif k == 1:
                op = nn.Identity()
            elif k == 0.5:
                op = nn.MaxPool2d(2, 2)
            else:
                raise ValueError(f"rescale {k} is not one of 4, 2, 1, 0.5")  # a programming error
            self.ops.append(op)

    def forward(self, features: Sequence[Tensor]) -> list[Tensor]:
        if len(features) != len(self.ops):
            raise ValueError(f"expected {len(self.ops)} feature maps, got {len(features)}")
        return [op(x) for op, x in zip(self.ops, features, strict=True)]
