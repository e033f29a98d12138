"""``colormae pretrain``: the settings of MAE / ColorMAE pretraining (defaults: the paper's ViT-B/16)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from colormae.config import setting
from colormae.jobs.common import DATA_HELP, INIT_CHANNELS_HELP, STATS_FILE_HELP, RunFolder, Runtime, TrainLoop

EXAMPLES = """\
examples:
  colormae pretrain --config configs/cpu_demo.yaml --out runs/cpu
  colormae pretrain --out runs/red model=mae_vit_tiny_32px data=mnist5k masking=red epochs=20
  colormae pretrain --out runs/red --resume          # continue where it stopped, with the run's config
  colormae pretrain --out runs/warm init=mae_pretrain_vit_base_full.pth data=/data/aerial epochs=50
  torchrun --nproc_per_node=8 -m colormae pretrain --config configs/colormae_vit_base_300e.yaml \\
      --out runs/vitb data=/data/imagenet/train

Every setting is a --flag, a key in the --config YAML, or a key=value override (later ones win).
Run directory: checkpoints/step-*.pt, metrics.jsonl, tb/ (tensorboard --logdir DIR/tb), config.yaml.
Ctrl-C or SIGTERM saves a checkpoint at the next step boundary; continue with --resume.
"""


@dataclass
class PretrainConfig(RunFolder, TrainLoop, Runtime):
    """Pretrain a ViT masked autoencoder with random (MAE), block (BEiT) or colour-noise (ColorMAE) masks.

    Settings come from the defaults (the paper's ViT-B/16 ColorMAE-G recipe), then --config FILE (YAML,
    see configs/), then --flags and KEY=VALUE overrides. For several GPUs or nodes run it under torchrun
    (docs/training.md).
    """

    # model
    model: str = setting("mae_vit_base_patch16", "model preset (colormae.models.PRESETS)")
    norm_pix_loss: bool = setting(True, "normalized-pixel loss (paper default)")
    init: str | None = setting(
        None, "start from this checkpoint's weights (ours, facebookresearch/mae, mmpretrain / official "
              "ColorMAE, Hugging Face ViTMAE, timm): its architecture, a fresh optimizer and lr schedule, "
              "its decoder when it has one; model=, when set, must fit it. With --resume finding a "
              "checkpoint, that checkpoint wins", metavar="CKPT")
    init_channels: str | None = setting(None, INIT_CHANNELS_HELP)
    # data
    data: str = setting("mnist5k", DATA_HELP)
    img_size: int | tuple[int, int] | None = setting(
        None, "input size in pixels: one side, or [H, W] for non-square images (default: the preset's)",
        min=1)
    in_chans: int | None = setting(None, "channels the model sees (default: what the data's images have; "
                                         "the preset's for built-in data)", min=1)
    normalize: Literal["auto", "imagenet", "dataset", "none"] = setting(
        "auto", "input normalisation: imagenet (3 channels; grey equivalent for 1), dataset (DIR/"
                "colormae_stats.json from `colormae data stats DIR`), none; auto: imagenet for 3-channel "
                "and built-in data, else dataset")
    stats_file: str | None = setting(None, STATS_FILE_HELP)
    data_backend: Literal["cpu", "gpu"] = setting(
        "cpu", "where images are decoded and augmented: cpu (loader workers) or gpu (workers read JPEG "
               "bytes; nvJPEG decoding, crop, flip and normalisation on the device; same crops as cpu)")
    # masking
    masking: str = setting("green", "masking strategy: random, random-white, block, red, blue, green, "
                                    "purple, white, or filter:SPEC for any noise family (e.g. "
                                    "filter:powerlaw:beta=2, filter:green:s1=0.25; grammar: "
                                    "colormae patterns generate --help)")
    mask_ratio: float = setting(0.75, "fraction of patches masked (paper: 0.75)", min=0.0, below=1.0)
    mask_mode: Literal["independent", "reference", "online"] = setting(
        "independent", "colour masks: independent pattern per sample, reference (official code), online")
    bank: str | None = setting(None, "pattern bank .npz for colour masking (default: generated)")
    bank_size: int = setting(3072, "patterns in a generated bank (paper: 3072)", min=1)
    pattern_size: int = setting(256, "side of a generated pattern in pixels (paper: 256)", min=1)
    bank_dtype: Literal["float32", "float16"] = setting(
        "float32", "storage of the pattern bank on the device (float16 halves it: 768 -> 384 MiB)")
    mask_schedule: list[tuple[int, str]] | None = setting(
        None, "change masking by epoch, e.g. [[0, green], [100, blue]] (overrides masking)")
    # optimisation
    epochs: int | None = setting(300, "training epochs (paper: 300; 800 / 1600 for longer schedules; none: "
                                      "max_steps sets the length)", role="run", min=1)
    warmup_epochs: float = setting(40.0, "linear lr warm-up length in epochs (paper: 40)", min=0.0)
    batch_size: int = setting(64, "images per device per micro-step", min=1)
    base_lr: float = setting(1.5e-4, "lr per 256 images: lr = base_lr x effective batch / 256 (paper: "
                                     "1.5e-4)", min=0.0)
    lr: float | None = setting(None, "absolute peak lr (overrides base_lr scaling)", min=0.0)
    min_lr: float = setting(0.0, "lr at the end of the cosine decay", min=0.0)
    schedule: Literal["mae", "reference"] = setting(
        "mae", "lr schedule and epoch length: mae (warm-up from 0, full batches only) or reference (the "
               "official ColorMAE run's: mmengine LinearLR from 1e-4 of the peak, then cosine by iteration; "
               "epochs keep their last, partial batch, e.g. 313 steps on ImageNet at 4096)")
    weight_decay: float = setting(0.05, "AdamW weight decay (paper: 0.05)", min=0.0)
    betas: tuple[float, float] = setting((0.9, 0.95), "AdamW betas (paper: 0.9, 0.95)")
    # watching the run (rank 0; none of these changes what is trained)
    viz_every: int = setting(0, "every N steps (and at the start) log reconstructions of viz_images fixed "
                                "images under the run's masking to tb/ (monitor/recon) and the mask "
                                "coverage; 0: off", role="run", min=0)
    viz_images: int = setting(4, "images in the reconstruction panel", role="run", min=1)
    monitor_data: str | None = setting(None, "images of the reconstruction panel (a folder or built-in set; "
                                             "default: the run's data)", role="run")
    monitor_knn: str | None = setting(None, "online k-NN monitor: a labelled data set with train and val "
                                            "splits (a folder or built-in set, e.g. mnist5k); every "
                                            "monitor_every steps log k-NN top-1 / balanced accuracy of the "
                                            "encoder's features (monitor_feature)", role="run")
    monitor_feature: Literal["cls", "mean"] = setting(
        "cls", "k-NN monitor: the features of knn_top1 / knn_balanced_acc: cls ([CLS] token, as MAE's "
               "probes) or mean (of the patch tokens); the top-1 of both is logged too (knn_top1_cls, "
               "knn_top1_mean). Either stays near its random-init value for the first few hundred steps "
               "(docs/training.md)", role="run")
    monitor_every: int = setting(1000, "steps between two k-NN evaluations (and one at the start)",
                                 role="run", min=1)
    monitor_cap: int = setting(1000, "k-NN monitor: at most this many images of each split, evenly spaced",
                               role="run", min=1)
    logger: Literal["tensorboard", "wandb"] = setting(
        "tensorboard", "where scalars and images go besides metrics.jsonl: tensorboard (tb/), or wandb "
                       "(W&B as well as tensorboard; needs colormae[wandb]; WANDB_MODE=offline keeps it in "
                       "OUT/wandb)", role="run")
    grad_checkpointing: bool = setting(False, "activation checkpointing of every encoder and decoder "
                                              "block (timm's): less memory for ViT-L/H, slower", role="run")
