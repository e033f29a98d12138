"""``colormae detect``: object detection and instance segmentation (ViTDet Mask R-CNN) from an encoder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from colormae.config import setting
from colormae.jobs.common import (
    BANDS_HELP,
    CKPT_HELP,
    DENSE_NORMALIZE_HELP,
    INIT_CHANNELS_HELP,
    RunFolder,
    Runtime,
    TrainLoop,
)

EXAMPLES = """\
examples:
  colormae detect runs/demo/pretrain --out runs/demo-det                      # built-in digit scenes, CPU
  colormae detect random:mae_vit_tiny_32px --out runs/demo-det-random         # the random-init baseline
  colormae detect runs/demo/pretrain --out runs/demo-det --resume             # continue (bit-exact)
  torchrun --nproc_per_node=8 -m colormae detect mae_pretrain_vit_base.pth --data /data/coco \\
      --out runs/vitdet-b --config configs/detect_maskrcnn_vitdet_base_coco.yaml

DATA is a COCO layout: annotations/instances_train2017.json + train2017/ and the same for val (or
instances_train.json + train/ ...). Box (and mask) AP, AP50, AP75, APs/m/l as pycocotools' COCOeval
computes them go to DIR/detect.json, the detections to DIR/detections_val.json (COCO results format),
a figure of a few val images to DIR/detect.png.
"""


@dataclass
class DetectConfig(RunFolder, TrainLoop, Runtime):
    """Fine-tune a pretrained ViT as the backbone of ViTDet's Mask R-CNN (torchvision) and evaluate on COCO.

    Window attention with global blocks and relative position bias in the ViT, a simple feature pyramid,
    2-conv RPN, 4-conv-1-fc box head and 4-conv mask head with LayerNorm; large-scale jitter; AdamW with
    layer-wise lr decay, warm-up then step decay; on the training engine (checkpoints, bit-exact --resume,
    AMP, torchrun). Defaults are sized for the built-in scenes on a CPU (300 steps of batch 8 at 32 px,
    32-channel heads: a few minutes on 2 cores, evaluation included); the paper's ViT-B values (COCO, box AP
    48.7 for ColorMAE-G 300e) are in the help texts and configs/detect_maskrcnn_vitdet_base_coco.yaml.
    """

    ckpt: str = setting("", CKPT_HELP, positional=True, required=True)
    data: str = setting("scenes", "scenes (the built-in digit scenes, scenes:<px> for another size, "
                                  "scenes:bands=4 multispectral with the digits only in band 4; exported "
                                  "as COCO JSON into DIR/scenes_coco) or a COCO-layout folder (images in any "
                                  "format pretraining reads: 8/16-bit PNG, multi-band TIFF, .npy)")
    init_channels: str | None = setting(None, INIT_CHANNELS_HELP)
    normalize: Literal["auto", "imagenet", "dataset", "none"] = setting("auto", DENSE_NORMALIZE_HELP)
    masks: bool = setting(True, "Mask R-CNN: boxes and instance masks (--no-masks: Faster R-CNN, boxes only)")
    img_size: int = setting(32, "training crop and test size in px (ViTDet: 1024)", min=16)
    window_size: int = setting(8, "window attention size in patches, in all but the global blocks "
                                  "(ViTDet: 14)", min=1)
    global_blocks: tuple[int, ...] | None = setting(None, "blocks with global attention (default: 4 evenly "
                                                          "spaced, ViT-B: 2,5,8,11)")
    drop_path: float = setting(0.1, "stochastic depth rate of the ViT (ViTDet: 0.1)", min=0.0, below=1.0)
    pyramid_scales: tuple[float, ...] = setting((2.0, 1.0, 0.5), "simple feature pyramid scales of the "
                                                "last ViT map (from 4, 2, 1, 0.5; a pooled level is added; "
                                                "ViTDet: 4 2 1 0.5)")
    fpn_channels: int = setting(32, "channels of the pyramid and the heads (ViTDet: 256)", min=8)
    roi_batch: int = setting(64, "region proposals sampled per image to train the box and mask heads "
                                  "(ViTDet: 512)", min=1)
    epochs: int | None = setting(None, "epochs (ViTDet: 100 on COCO; none: max_steps sets the length)",
                                 role="run", min=1)
    max_steps: int | None = setting(300, "optimizer steps (the lr schedule spans them; with epochs: the "
                                         "smaller; ViTDet: epochs=100 on COCO)", role="run", min=1)
    warmup_steps: int | None = setting(20, "lr warm-up in optimizer steps (ViTDet: 250)", min=0)
    batch_size: int = setting(8, "images per device and micro-step (ViTDet: 64 in all)", min=1)
    lr: float = setting(1e-3, "peak AdamW lr (ViTDet: 1e-4 at batch 64)", min=0.0)
    weight_decay: float = setting(0.1, "AdamW weight decay (ViTDet: 0.1)", min=0.0)
    layer_decay: float = setting(0.7, "layer-wise lr decay of the ViT (ViTDet: 0.7 for ViT-B)", min=0.0,
                                 max=1.0)
    freeze_encoder: bool = setting(False, "a frozen ViT (no gradient, not in the optimizer, eval mode): only "
                                          "the feature pyramid and the detection heads learn")
    lr_milestones: tuple[float, ...] = setting((0.889, 0.963), "lr x 0.1 at these fractions of the run "
                                               "(ViTDet: epochs 88 and 96 of 100)")
    scale_range: tuple[float, float] = setting((1.0, 1.0), "large-scale jitter: resize ratio range (ViTDet: "
                                               "0.1 2.0)")
    score_thresh: float = setting(0.05, "keep detections scoring at least this", role="run", min=0.0, max=1.0)
    detections_per_img: int = setting(100, "detections kept per image (COCO: 100)", role="run", min=1)
    eval_every: int | None = setting(None, "also evaluate every N optimizer steps (DIR/eval.jsonl; default: "
                                           "at the end only)", role="run", min=1)
    eval_batch_size: int = setting(8, "images per device at evaluation", role="run", min=1)
    figure_images: int = setting(6, "val images drawn in DIR/detect.png (0: no figure)", role="run", min=0)
    bands: str | None = setting(None, BANDS_HELP, role="io", metavar="B,B,B")
