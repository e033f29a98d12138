"""``colormae finetune``: the settings of end-to-end fine-tuning (MAE recipe, timm augmentations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from colormae.config import setting
from colormae.jobs import Job
from colormae.jobs.common import CKPT_HELP, DATA_HELP, RunFolder, Runtime, TrainLoop

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
class FinetuneConfig(RunFolder, TrainLoop, Runtime):
    """Fine-tune a pretrained encoder end to end as a ViT classifier (MAE recipe), on the training engine.

    Layer-wise lr decay, drop path, Mixup / CutMix with label smoothing, RandAugment and random erasing
    (timm), optional EMA; checkpoints every epoch, bit-exact --resume, AMP, torchrun. Defaults are sized
    for mnist5k at 32 px on a CPU; the paper's ViT-B values are in the help texts.
    """

    ckpt: str = setting("", CKPT_HELP, positional=True, required=True)
    data: str = setting("mnist5k", DATA_HELP)
    epochs: int | None = setting(10, "epochs (MAE: 100 for ViT-B; none: max_steps sets the length)",
                                 role="run", min=1)
    batch_size: int = setting(64, "images per device and micro-step", min=1)
    base_lr: float = setting(1e-3, "peak lr = base_lr x effective batch / 256 (MAE: 5e-4)", min=0.0)
    lr: float | None = setting(None, "absolute peak lr (overrides base_lr)", min=0.0)
    min_lr: float = setting(1e-6, "final lr of the cosine", min=0.0)
    warmup_epochs: float = setting(1.0, "warm-up epochs (MAE: 5)", min=0.0)
    layer_decay: float = setting(0.65, "layer-wise lr decay (MAE: 0.65 for ViT-B)", min=0.0, max=1.0)
    weight_decay: float = setting(0.05, "AdamW weight decay", min=0.0)
    drop_path: float = setting(0.1, "stochastic depth rate", min=0.0, below=1.0)
    mixup: float = setting(0.8, "mixup alpha (0: off)", min=0.0)
    cutmix: float = setting(1.0, "cutmix alpha (0: off)", min=0.0)
    smoothing: float = setting(0.1, "label smoothing", min=0.0, below=1.0)
    auto_augment: str | None = setting("rand-m9-mstd0.5-inc1", "timm auto-augment policy (none: off)")
    reprob: float = setting(0.25, "random erasing probability", min=0.0, max=1.0)
    crop_min: float = setting(0.08, "smallest RandomResizedCrop area fraction", min=0.0, max=1.0)
    ema_decay: float | None = setting(None, "keep an EMA of the weights with this decay (e.g. 0.9999) and "
                                            "report it too", min=0.0, below=1.0)
    global_pool: Literal["avg", "token"] = setting("avg", "avg: mean of patch tokens + fc_norm (MAE); "
                                                          "token: [CLS]")


def run(cfg: FinetuneConfig) -> int:
    """Fine-tune and print the final validation accuracy (rank 0)."""
    from colormae.eval.finetune import finetune
    from colormae.eval.report import summary_line
    from colormae.train.distributed import cleanup_distributed, env_dist_info

    try:
        res = finetune(cfg)
    finally:
        cleanup_distributed()
    if env_dist_info().is_main:
        print(f"{summary_line(res)}; wrote {cfg.out}/finetune.json, checkpoint {res['checkpoint']}")
    return 0


JOBS = (Job("finetune", FinetuneConfig, run, "fine-tune an encoder end to end (MAE recipe, timm augments)",
            EXAMPLES),)
