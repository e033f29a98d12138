"""``colormae segment``: the settings of semantic segmentation (UperNet on the encoder, mmseg protocol)."""

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
  colormae segment runs/demo/pretrain --data scenes --out runs/demo-seg
  colormae segment random:mae_vit_tiny_32px --data scenes --out runs/demo-seg-random   # the baseline
  colormae segment runs/demo-seg --data scenes --out runs/demo-seg --resume            # continue (bit-exact)
  torchrun --nproc_per_node=8 -m colormae segment runs/vitb --data /data/ADEChallengeData2016 \\
      --out runs/vitb-ade --config configs/segment_upernet_vit_base_ade20k.yaml

Every setting is a --flag, a key of the --config YAML, or a key=value override. mIoU, mAcc, aAcc and
per-class IoU on the val split go to DIR/segment.json (and DIR/eval.jsonl with val_every); DIR/segment.png
overlays predictions and ground truth on a few val images.
"""

SEG_DATA_HELP = ("scenes (built-in digit scenes, 32 px; scenes:<px> for another size; scenes:bands=4 or "
                 "scenes:<px>:bands=N: multispectral, the digits only in band 4), an ADE20K release "
                 "folder (images/ + annotations/ with training/ and validation/), or a folder with "
                 "{train,val}/images (any format pretraining reads: 8/16-bit PNG, multi-band TIFF, .npy) + "
                 "{train,val}/masks (single-channel PNG) and classes.txt")


@dataclass
class SegmentConfig(RunFolder, TrainLoop, Runtime):
    """Fine-tune a pretrained encoder for semantic segmentation (UperNet, the official ColorMAE / MAE
    protocol) on the training engine, and evaluate it: mIoU, mAcc, aAcc, per-class IoU.

    The encoder's blocks ``out_indices`` feed a 4-level pyramid (x4, x2, x1, x0.5), an UperNet head and an
    FCN auxiliary head; AdamW with layer-wise lr decay, linear warm-up then poly decay, iteration-based.
    Defaults are sized for the built-in scenes and a 32 px demo encoder on a CPU; the paper's ViT-B /
    ADE20K values are in the help texts and in configs/segment_upernet_vit_base_ade20k.yaml. ``head=linear``
    with ``freeze_encoder`` is the linear dense probe (DINOv2's protocol).
    """

    ckpt: str = setting("", CKPT_HELP, positional=True, required=True)
    data: str = setting("scenes", SEG_DATA_HELP)
    init_channels: str | None = setting(None, INIT_CHANNELS_HELP)
    normalize: Literal["auto", "imagenet", "dataset", "none"] = setting("auto", DENSE_NORMALIZE_HELP)
    max_steps: int | None = setting(300, "optimizer steps (paper: 160000); the lr schedule spans them",
                                    role="run", min=1)
    warmup_steps: int | None = setting(30, "linear lr warm-up in optimizer steps (paper: 1500)", min=0)
    batch_size: int = setting(8, "crops per device and micro-step (paper: 2 on each of 8 GPUs)", min=1)
    train_images: int | None = setting(None, "train on this many images of the train split, evenly spaced "
                                             "(label-efficiency studies; default: all)", min=1)
    crop_size: int = setting(32, "training crop and sliding-window side in pixels (paper: 512); the "
                                 "encoder's position embeddings are interpolated to it", min=8)
    scale: tuple[int, int] | None = setting(None, "(long, short) edges images are resized to before the "
                                                  "random ratio, and at evaluation (paper: [2048, 512]; "
                                                  "default: [4 x crop, crop])")
    ratio_range: tuple[float, float] = setting((0.5, 2.0), "random resize ratio range (paper: [0.5, 2.0])")
    cat_max_ratio: float = setting(0.75, "re-draw a crop whose most frequent class covers this much of it "
                                         "(1: off)", min=0.0, max=1.0)
    flip: float = setting(0.0, "horizontal flip probability (paper: 0.5; off by default since flipped "
                               "digits are other shapes)", min=0.0, max=1.0)
    photometric: bool = setting(True, "photometric distortion: brightness, contrast, saturation, hue (mmseg; "
                                      "other than 3 channels: brightness and contrast only)")
    lr: float = setting(1e-3, "peak AdamW lr (paper: 1e-4)", min=0.0)
    min_lr: float = setting(0.0, "lr at the last step of the poly decay", min=0.0)
    poly_power: float = setting(1.0, "power of the poly lr decay", min=0.0)
    weight_decay: float = setting(0.05, "AdamW weight decay (not on norms, biases, [CLS], position "
                                        "embeddings)", min=0.0)
    layer_decay: float = setting(0.65, "layer-wise lr decay (paper: 0.65)", min=0.0, max=1.0)
    freeze_encoder: bool = setting(
        False, "a dense probe: the encoder is frozen (no gradient, not in the optimizer, eval mode: no drop "
               "path; layer scale stays 1), only the pyramid and the heads learn")
    head: Literal["upernet", "linear"] = setting(
        "upernet", "decode head: upernet (the paper's: the blocks' maps as a 4-level pyramid, UperNet and "
                   "an FCN auxiliary head) or linear (the linear dense probe of DINOv2: BatchNorm and a 1x1 "
                   "conv on the concatenated patch tokens of out_indices, logits upsampled bilinearly; no "
                   "pyramid, no auxiliary head; with --freeze-encoder it reads only what each token holds)")
    drop_path: float = setting(0.1, "stochastic depth rate of the encoder (paper: 0.1)", min=0.0, below=1.0)
    layer_scale: float | None = setting(1.0, "init value of the encoder's per-block layer scale (paper: 1.0; "
                                             "none: off)", min=0.0)
    out_indices: tuple[int, ...] | None = setting(None, "encoder blocks (0-based) that feed the head "
                                                        "(paper: [3, 5, 7, 11]; default: those scaled "
                                                        "to the encoder's depth; head=linear: the last "
                                                        "block)")
    channels: int = setting(32, "UperNet channels (paper: 768)", min=1)
    aux_channels: int = setting(16, "auxiliary FCN head channels (paper: 256)", min=1)
    aux_weight: float = setting(0.4, "loss weight of the auxiliary head (paper: 0.4; 0: no auxiliary head)",
                                min=0.0)
    pool_scales: tuple[int, ...] = setting((1, 2, 3, 6), "pyramid pooling scales of the UperNet head")
    dropout: float = setting(0.1, "dropout before each head's classifier", min=0.0, below=1.0)
    ignore_index: int = setting(255, "label id of pixels to ignore (and of padding)", min=0)
    reduce_zero_label: bool | None = setting(None, "label 0 becomes ignore and every other id drops by one "
                                                   "(default: on for ADE20K, off otherwise)")
    check_labels: bool = setting(True, "read every mask before training to check its label ids (ADE20K: "
                                       "about a minute)", role="run")
    mode: Literal["slide", "whole"] = setting("slide", "evaluation: sliding window (crop_size windows, "
                                                       "stride apart) or whole image")
    stride: int | None = setting(None, "sliding-window stride (paper: 341; default: 2/3 of crop_size)", min=1)
    val_every: int | None = setting(None, "also evaluate every N optimizer steps (DIR/eval.jsonl; paper: "
                                          "16000)", role="run", min=1)
    save_predictions: str | None = setting(None, "write one label PNG per val image here, named as its "
                                                 "annotation", role="io", metavar="DIR")
    figure: int = setting(6, "overlay predictions and ground truth on this many val images in "
                             "DIR/segment.png (0: no figure)", role="io", min=0)
    bands: str | None = setting(None, BANDS_HELP, role="io", metavar="B,B,B")
