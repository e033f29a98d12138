"""``colormae finetune``: the settings of end-to-end fine-tuning (MAE recipe, timm augmentations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from colormae.config import setting
from colormae.jobs.common import (
    CKPT_HELP,
    DATA_HELP,
    INIT_CHANNELS_HELP,
    STATS_FILE_HELP,
    LabelFiles,
    RunFolder,
    Runtime,
    TrainLoop,
)

#: A setting that ``colormae.eval.recipe.finetune_recipe`` fills in from the data, model and batch.
Auto = Literal["auto"]

EXAMPLES = """\
examples:
  colormae finetune runs/demo/pretrain --data mnist5k --out runs/demo-ft
  colormae finetune runs/demo/pretrain --data mnist5k --out runs/demo-ft --resume   # continue (bit-exact)
  torchrun --nproc_per_node=8 -m colormae finetune runs/vitb --data /data/imagenet --out runs/vitb-ft \\
      epochs=100 batch_size=128 base_lr=5e-4 warmup_epochs=5 amp=bf16 ema_decay=0.9999

Every setting is a --flag, a key of the --config YAML, or a key=value override. Validation Top-1 / Top-5
after every epoch (DIR/eval.jsonl) and at the end (DIR/finetune.json). Load the result with
colormae.load(DIR) (a timm VisionTransformer).
"""


@dataclass
class FinetuneConfig(LabelFiles, RunFolder, TrainLoop, Runtime):
    """Fine-tune a pretrained encoder end to end as a ViT classifier (MAE recipe), on the training engine.

    Layer-wise lr decay, drop path, Mixup / CutMix with label smoothing, RandAugment and random erasing
    (timm), optional EMA; checkpoints every epoch, bit-exact --resume, AMP, torchrun. Defaults are sized
    for small data sets on a CPU ("auto": settings that scale with the number of training images, the
    depth and the batch, MAE's recipe at ImageNet scale); the paper's ViT-B values are in the help texts.
    """

    ckpt: str = setting("", CKPT_HELP, positional=True, required=True)
    data: str = setting("mnist5k", DATA_HELP)
    init_channels: str | None = setting(None, INIT_CHANNELS_HELP)
    epochs: int | None = setting(10, "epochs (MAE: 100 for ViT-B; none: max_steps sets the length)",
                                 role="run", min=1)
    batch_size: int = setting(64, "images per device and micro-step", min=1)
    base_lr: float = setting(1e-3, "peak lr = base_lr x effective batch / 256 (MAE: 5e-4)", min=0.0)
    lr: float | Auto | None = setting("auto", "absolute peak lr; none: base_lr x batch / 256; auto: "
                                              "2e-3 x sqrt(batch / 64) on small sets, MAE's rule at ImageNet "
                                              "scale", min=0.0)
    min_lr: float = setting(1e-6, "final lr of the cosine", min=0.0)
    schedule: Literal["mae", "reference"] = setting(
        "mae", "lr schedule and epoch length: mae (warm-up from 0, full batches only, min_lr x each group's "
               "layer-decay scale at the end) or reference (the official ColorMAE fine-tuning run's: "
               "mmengine's LinearLR from 1e-4 of the peak, cosine to the same min_lr for every group, epochs "
               "keep their last partial batch)")
    warmup_epochs: float | Auto = setting("auto", "warm-up epochs (MAE: 5; auto: 5 percent of the steps)",
                                          min=0.0)
    layer_decay: float | Auto = setting("auto", "layer-wise lr decay (MAE: 0.65 for ViT-B; auto: 0.65..0.85 "
                                                "per 12 blocks, by data size, 1.0 from random init)",
                                        min=0.0, max=1.0)
    weight_decay: float = setting(0.05, "AdamW weight decay", min=0.0)
    drop_path: float | Auto = setting("auto", "stochastic depth rate (MAE: 0.1; auto: 0.1 x depth / 12)",
                                      min=0.0, below=1.0)
    mixup: float | Auto = setting("auto", "mixup alpha, 0: off (MAE: 0.8; auto: off below ~100k images)",
                                  min=0.0)
    cutmix: float | Auto = setting("auto", "cutmix alpha, 0: off (MAE: 1.0; auto: off below ~100k images)",
                                   min=0.0)
    smoothing: float = setting(0.1, "label smoothing", min=0.0, below=1.0)
    auto_augment: str | None = setting("auto", "timm auto-augment policy, none: off (MAE: "
                                               "rand-m9-mstd0.5-inc1; auto: magnitude grows with the data, "
                                               "off on small sets)")
    reprob: float | Auto = setting("auto", "random erasing probability (MAE: 0.25; auto: 0 on small sets)",
                                   min=0.0, max=1.0)
    crop_min: float | Auto = setting("auto", "smallest RandomResizedCrop area fraction (MAE: 0.08; auto: "
                                             "0.35 on small sets)", min=0.0, max=1.0)
    normalize: Literal["auto", "imagenet", "dataset", "none"] = setting(
        "auto", "input normalisation; auto: the statistics the checkpoint was trained with")
    stats_file: str | None = setting(None, STATS_FILE_HELP)
    ema_decay: float | None = setting(None, "keep an EMA of the weights with this decay (e.g. 0.9999) and "
                                            "report it too", min=0.0, below=1.0)
    global_pool: Literal["avg", "token"] = setting("avg", "avg: mean of patch tokens + fc_norm (MAE); "
                                                          "token: [CLS]")
    freeze_blocks: int | None = setting(
        None, "partial fine-tuning: freeze the patch embedding, [CLS], position embedding and the first N "
              "blocks (no gradient, not in the optimizer, eval mode); 0: the stem only", min=0)
    freeze_encoder: bool = setting(
        False, "freeze everything but the classifier head, the final norm / fc_norm included (MAE's linear "
               "probe convention): only the head learns")
