"""UperNet on a ViT: backbone -> pyramid adapter -> UperNet head (+ FCN auxiliary head in training); or,
with ``head="linear"``, the linear dense probe: backbone -> :class:`~colormae.dense.linear_head.LinearHead`.

:class:`Segmentor` maps ``images (B, 3, H, W)`` to logits ``(B, K, H, W)`` at the input size (inputs are
zero-padded to a multiple of the patch size and the padding cropped off again); in training mode it
returns ``(logits, aux_logits)``. :meth:`Segmentor.group_matcher` gives timm's layer-decay grouping the
BEiT / mmseg layout: embeddings layer 0, block ``i`` layer ``i + 1``, adapter and heads the top layer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from colormae.dense.backbone import ViTBackbone, backbone_from_mae, default_out_indices
from colormae.dense.linear_head import LinearHead
from colormae.dense.pyramid import RESCALES, Feature2Pyramid
from colormae.dense.upernet import fcn_head, head_forward, upernet_head
from colormae.models import MAEConfig

#: The decode heads: ``"upernet"`` (pyramid + UperNet + FCN auxiliary, the paper's) or ``"linear"``.
HEADS = ("upernet", "linear")


@dataclass
class HeadConfig:
    """The segmentation model's own shapes (saved in checkpoints next to the encoder's MAEConfig)."""

    num_classes: int
    crop: int
    out_indices: tuple[int, ...] = ()
    channels: int = 768
    aux_channels: int = 256
    pool_scales: tuple[int, ...] = (1, 2, 3, 6)
    dropout: float = 0.1
    drop_path: float = 0.1
    layer_scale: float | None = 1.0
    aux: bool = True
    classes: list[str] = field(default_factory=list)
    head: str = "upernet"

    def __post_init__(self) -> None:
        self.out_indices = tuple(self.out_indices)
        self.pool_scales = tuple(self.pool_scales)
        if self.head not in HEADS:
            raise ValueError(f"head {self.head!r} is not one of {HEADS}")  # the job's Literal checks it
        if self.head == "linear":
            self.aux = False

    def default_out_indices(self, depth: int) -> None:
        """Fill empty ``out_indices``: the protocol's four blocks for UperNet, the last for a linear head."""
        if not self.out_indices:
            self.out_indices = (depth - 1,) if self.head == "linear" else default_out_indices(depth)


class Segmentor(nn.Module):
    """UperNet + ViT; see the module docstring."""

    def __init__(self, encoder_config: MAEConfig, head: HeadConfig,
                 backbone: ViTBackbone | None = None) -> None:
        super().__init__()
        head.default_out_indices(encoder_config.depth)
        self.encoder_config, self.head_config = encoder_config, head
        crop = (head.crop, head.crop)
        self.backbone = backbone or ViTBackbone(encoder_config, crop, head.out_indices,
                                                drop_path=head.drop_path,
                                                layer_scale=head.layer_scale)
        dim = encoder_config.embed_dim
        if head.head == "linear":  # the patch grid itself, no pyramid, no auxiliary head
            self.neck: nn.Module = nn.Identity()
            self.decode_head: nn.Module = LinearHead([dim] * len(head.out_indices), head.num_classes,
                                                     dropout=head.dropout)
            self.auxiliary_head: nn.Module | None = None
            return
        self.neck = Feature2Pyramid(dim, RESCALES)
        levels = [dim] * len(RESCALES)
        self.decode_head = upernet_head(levels, head.num_classes, channels=head.channels,
                                        pool_scales=head.pool_scales, dropout=head.dropout)
        self.auxiliary_head = (fcn_head(levels, head.num_classes, in_index=2, channels=head.aux_channels,
                                        dropout=head.dropout) if head.aux else None)

    @property
    def num_classes(self) -> int:
        return self.head_config.num_classes

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """timm parameter groups for layer-wise lr decay (BEiT / mmseg ``LayerDecayOptimizerConstructor``)."""
        return {"stem": r"^backbone\.vit\.(?:cls_token|pos_embed|patch_embed|reg_token)",
                "blocks": r"^backbone\.vit\.blocks\.(\d+)",
                "head": r"^(?:neck|decode_head|auxiliary_head)\."}

    def no_weight_decay(self) -> set[str]:
        """Position embedding and [CLS] token take no weight decay (as 1-D parameters do)."""
        return {"backbone.vit.pos_embed", "backbone.vit.cls_token"}

    def forward(self, images: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        h, w = images.shape[-2:]
        p = self.backbone.patch_size
        padded = F.pad(images, (0, -w % p, 0, -h % p))
        pyramid = self.neck(self.backbone(padded))
        size = padded.shape[-2:]

        def up(x: Tensor) -> Tensor:
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)[..., :h, :w]

        logits = up(head_forward(self.decode_head, pyramid))
        if self.training and self.auxiliary_head is not None:
            return logits, up(head_forward(self.auxiliary_head, pyramid))
        return logits


def segmentor_from_mae(mae: nn.Module, head: HeadConfig) -> Segmentor:
    """A :class:`Segmentor` whose backbone holds ``mae.encoder``'s weights (fresh adapter and heads)."""
    head.default_out_indices(mae.config.depth)
    backbone = backbone_from_mae(mae, (head.crop, head.crop), head.out_indices, drop_path=head.drop_path,
                                 layer_scale=head.layer_scale)
    return Segmentor(mae.config, head, backbone)


def model_config(encoder: MAEConfig, head: HeadConfig) -> dict[str, Any]:
    """``model_config`` of a segmentation checkpoint: the encoder's MAEConfig plus ``segment``: the head."""
    return {**asdict(encoder), "segment": asdict(head)}


def segmentor_from_config(model_config: dict[str, Any]) -> Segmentor:
    """Rebuild an (untrained) :class:`Segmentor` from :func:`model_config`'s dict."""
    from dataclasses import fields

    known = {f.name for f in fields(MAEConfig)}
    enc = MAEConfig(**{k: v for k, v in model_config.items() if k in known})
    return Segmentor(enc, HeadConfig(**model_config["segment"]))


def seg_loss(outputs: Tensor | tuple[Tensor, Tensor], labels: Tensor, *, ignore_index: int = 255,
             aux_weight: float = 0.4) -> tuple[Tensor, dict[str, float]]:
    """Cross-entropy of the main logits plus ``aux_weight`` x that of the auxiliary ones (mmseg)."""
    if isinstance(outputs, tuple):
        logits, aux = outputs
    else:
        logits, aux = outputs, None
    main = F.cross_entropy(logits.float(), labels, ignore_index=ignore_index)
    if aux is None:
        return main, {}
    aux_loss = F.cross_entropy(aux.float(), labels, ignore_index=ignore_index)
    return main + aux_weight * aux_loss, {"loss_main": float(main.detach()),
                                          "loss_aux": float(aux_loss.detach())}
