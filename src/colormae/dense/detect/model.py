"""ViTDet's Mask R-CNN (or Faster R-CNN) on torchvision's detection models, from an MAE encoder.

torchvision supplies the detector (``MaskRCNN`` / ``FasterRCNN``: anchors, RPN, RoIAlign, losses,
post-processing, resizing and normalisation), the RPN head (``RPNHead(conv_depth=2)``, ViTDet's 2-conv
RPN), the 4-conv-1-fc box head (``FastRCNNConvFCHead``) and the 4-conv mask head (``MaskRCNNHeads``), with
LayerNorm (timm ``LayerNorm2d``) in every conv as ViTDet's "ln-all" heads. The backbone is
:mod:`~colormae.dense.detect.backbone` + :mod:`~colormae.dense.detect.pyramid`.

Anchors: one size per level, 8 x its stride (32 ... 512 px for ViT-B/16, as ViTDet), ratios 0.5, 1, 2.
Inputs: training batches come already jittered to ``img_size`` squares
(:class:`~colormae.dense.detect.transforms.LargeScaleJitter`), so the detector does not resize them;
at evaluation it resizes the longer side to ``img_size`` and maps detections back to the original image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from colormae.dense.detect.backbone import WINDOW_SIZE, build_vit, load_encoder
from colormae.dense.detect.pyramid import SCALES, ViTDetBackbone
from colormae.models import MAEConfig

#: Anchor size per pyramid level, in strides (ViTDet: 32 px at stride 4 ... 512 px at stride 64).
ANCHOR_STRIDES = 8
ASPECT_RATIOS = (0.5, 1.0, 2.0)


@dataclass
class DetectorConfig:
    """Everything that shapes a detector besides its encoder (saved in ``detect`` checkpoints)."""

    num_classes: int
    masks: bool = True
    img_size: int = 1024
    window_size: int = WINDOW_SIZE
    global_blocks: tuple[int, ...] | None = None
    pyramid_scales: tuple[float, ...] = SCALES
    channels: int = 256
    drop_path: float = 0.0
    score_thresh: float = 0.05
    detections_per_img: int = 100
    roi_batch: int = 512
    class_names: list[str] = field(default_factory=list)
    cat_ids: list[int] = field(default_factory=list)
    #: Per-channel normalisation the detector applies to its [0, 1] inputs (``None``: ImageNet RGB).
    image_mean: list[float] | None = None
    image_std: list[float] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.global_blocks, list):
            self.global_blocks = tuple(self.global_blocks)
        self.pyramid_scales = tuple(float(s) for s in self.pyramid_scales)

    def to_dict(self) -> dict[str, Any]:
        """Plain types, for a checkpoint."""
        out = asdict(self)
        out["global_blocks"] = list(self.global_blocks) if self.global_blocks is not None else None
        out["pyramid_scales"] = list(self.pyramid_scales)
        return out


def build_detector(encoder: MAEConfig, det: DetectorConfig) -> nn.Module:
    """A freshly initialised torchvision ``MaskRCNN`` (``det.masks``) or ``FasterRCNN`` on a ViTDet backbone
    with ``encoder``'s shapes; :func:`load_encoder` fills the ViT."""
    from timm.layers import LayerNorm2d
    from torchvision.models.detection import FasterRCNN, MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNConvFCHead, FastRCNNPredictor
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.models.detection.rpn import RPNHead
    from torchvision.ops import MultiScaleRoIAlign

    from colormae.data.transforms import MEAN, STD

    vit = build_vit(encoder, img_size=det.img_size, window_size=det.window_size,
                    global_indexes=det.global_blocks, drop_path=det.drop_path)
    backbone = ViTDetBackbone(vit, encoder.patch_size, det.pyramid_scales, det.channels)
    strides = backbone.strides
    anchors = AnchorGenerator(sizes=tuple((max(1, round(ANCHOR_STRIDES * s)),) for s in strides),
                              aspect_ratios=(ASPECT_RATIOS,) * len(strides))
    c = det.channels
    levels = [str(i) for i in range(len(det.pyramid_scales))]
    n = det.num_classes + 1  # + background
    common: dict[str, Any] = dict(
        num_classes=None, min_size=det.img_size, max_size=det.img_size,
        image_mean=list(det.image_mean or MEAN), image_std=list(det.image_std or STD),
        rpn_anchor_generator=anchors,
        rpn_head=RPNHead(c, len(ASPECT_RATIOS), conv_depth=2),
        box_roi_pool=MultiScaleRoIAlign(levels, output_size=7, sampling_ratio=0),
        box_head=FastRCNNConvFCHead((c, 7, 7), [c] * 4, [1024], norm_layer=LayerNorm2d),
        box_predictor=FastRCNNPredictor(1024, n), box_score_thresh=det.score_thresh,
        box_detections_per_img=det.detections_per_img, box_batch_size_per_image=det.roi_batch,
        _skip_resize=True,
    )
    # every level's size must divide exactly for anchor strides: pad inputs to a multiple of 4 patches
    size_divisible = max(32, 4 * encoder.patch_size)
    if det.masks:
        model = MaskRCNN(backbone, mask_roi_pool=MultiScaleRoIAlign(levels, output_size=14, sampling_ratio=0),
                         mask_head=MaskRCNNHeads(c, [c] * 4, 1, norm_layer=LayerNorm2d),
                         mask_predictor=MaskRCNNPredictor(c, c, n), **common)
    else:
        model = FasterRCNN(backbone, **common)
    model.transform.size_divisible = size_divisible
    return model


def detector_from_encoder(encoder_config: MAEConfig, encoder_state: dict, det: DetectorConfig
                          ) -> tuple[nn.Module, list[str]]:
    """:func:`build_detector` with the ViT loaded from a timm-ViT encoder state dict; returns notes too."""
    model = build_detector(encoder_config, det)
    notes = load_encoder(model.backbone.vit, encoder_state)
    return model, notes


def vit_lr_scale(depth: int, decay: float):  # noqa: ANN201 - a closure
    """ViTDet's layer-wise lr decay by parameter name (detectron2 ``get_vit_lr_decay_rate``): the patch
    embedding and position embedding are layer 0, ``blocks.i`` layer ``i + 1``, everything else (pyramid,
    heads) layer ``depth + 1``; scale ``decay ** (depth + 1 - layer)``."""

    def scale(name: str) -> float:
        layer = depth + 1
        if name.startswith("backbone.vit."):
            if ".pos_embed" in name or ".patch_embed" in name:
                layer = 0
            elif ".blocks." in name:
                layer = int(name.split(".blocks.")[1].split(".")[0]) + 1
        return decay ** (depth + 1 - layer)

    return scale
