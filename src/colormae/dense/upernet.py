"""UperNet decode head and FCN auxiliary head: transformers' ``UperNetHead`` / ``UperNetFCNHead``.

Those are ports of mmseg's ``UPerHead`` (PSP pooling on the top level, FPN laterals and fusion) and
``FCNHead``; we use them as they are and add only what mmseg has and they lack: dropout (0.1) before the
1x1 classifier. transformers is imported here only, when a segmentation model is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

from torch import Tensor, nn

from colormae.extras import require


def _heads() -> tuple[type, type]:
    heads = require("transformers.models.upernet.modeling_upernet", extra="dense", feature="UperNet heads")
    return heads.UperNetHead, heads.UperNetFCNHead


def _with_dropout(head: nn.Module, dropout: float) -> None:
    if dropout > 0:
        head.classifier = nn.Sequential(nn.Dropout2d(dropout), head.classifier)


def upernet_head(in_channels: Sequence[int], num_classes: int, *, channels: int = 768,
                 pool_scales: Sequence[int] = (1, 2, 3, 6), dropout: float = 0.1) -> nn.Module:
    """UperNet head: pyramid ``[(B, C_i, h_i, w_i)]`` (finest first) -> logits ``(B, K, h_0, w_0)``."""
    UperNetHead, _ = _heads()
    config = SimpleNamespace(pool_scales=tuple(pool_scales), hidden_size=channels, num_labels=num_classes)
    head = UperNetHead(config, in_channels=list(in_channels))
    _with_dropout(head, dropout)
    return head


def fcn_head(in_channels: Sequence[int], num_classes: int, *, in_index: int = 2, channels: int = 256,
             num_convs: int = 1, dropout: float = 0.1) -> nn.Module:
    """FCN auxiliary head on pyramid level ``in_index``: -> logits ``(B, K, h, w)`` of that level."""
    _, UperNetFCNHead = _heads()
    config = SimpleNamespace(auxiliary_in_channels=None, auxiliary_channels=channels,
                             auxiliary_num_convs=num_convs, auxiliary_concat_input=False,
                             num_labels=num_classes)
    head = UperNetFCNHead(config, in_channels=list(in_channels), in_index=in_index)
    _with_dropout(head, dropout)
    return head


def head_forward(head: nn.Module, features: Sequence[Tensor]) -> Tensor:
    """Run a head on a pyramid (the transformers heads index a list)."""
    return head(list(features))
