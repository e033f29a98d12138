"""``colormae linprobe`` and ``colormae knn``: the settings of the frozen-feature evaluations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from colormae.config import setting
from colormae.jobs.common import (
    CKPT_HELP,
    DATA_HELP,
    INIT_CHANNELS_HELP,
    LAYER_HELP,
    STATS_FILE_HELP,
    LabelFiles,
    Runtime,
)

DATA_NOTE = """
DATA: mnist5k (5,000 shipped digits; per class the first 400 are train and the last 100 val: 4,000 /
1,000, class-balanced), photos, or an ImageFolder with train/ and val/ class folders (the same classes in
both). Every setting is a --flag, a key of the --config YAML, or a key=value override.
"""


@dataclass
class EvalConfig(LabelFiles, Runtime):
    """Settings of every frozen-feature evaluation."""

    ckpt: str = setting("", CKPT_HELP, positional=True, required=True, role="io")
    data: str = setting("mnist5k", DATA_HELP)
    init_channels: str | None = setting(None, INIT_CHANNELS_HELP)
    feature: Literal["cls", "mean"] = setting("cls", "[CLS] token (as MAE) or the mean of the patch tokens, "
                                                     "after the final norm")
    layer: int | None = setting(None, LAYER_HELP)
    batch_size: int = setting(256, "images per batch", min=1)
    num_workers: int | None = setting(None, "data-loading worker processes (default: from the CPUs "
                                            "available)", role="io", min=0)
    cache_dir: str | None = setting(None, "keep the computed features here (safetensors) and reuse them",
                                    role="io", metavar="DIR")
    out: str | None = setting(None, "write the results JSON into this folder", role="io", metavar="DIR")
    seed: int = setting(0, "seed of random:<preset> and of the probe", min=0)
    limit: int | None = setting(None, "use at most N evenly spaced images of each split (quick checks; every "
                                      "class still shows when a set is sorted by class)", min=1)
    normalize: Literal["auto", "imagenet", "dataset", "none"] = setting(
        "auto", "input normalisation; auto: the statistics the checkpoint was trained with (random:<preset>: "
                "imagenet for 3 channels, else dataset)")
    stats_file: str | None = setting(None, STATS_FILE_HELP)
    img_size: int | tuple[int, int] | None = setting(
        None, "evaluate at this size, one side or [H, W] (default: the checkpoint's; position embeddings "
              "are resampled)", min=1)


@dataclass
class LinprobeConfig(EvalConfig):
    """Linear probe of a frozen encoder (MAE protocol): Top-1 / Top-5 / balanced accuracy and a JSON file.

    The encoder runs in eval mode without gradients; its features are computed once and reused every
    epoch unless --augment. The head is BatchNorm without affine parameters + a linear layer (MAE),
    trained with SGD (default) or LARS and a warm-up + cosine schedule. Under torchrun the feature pass
    is split over the processes; results come from rank 0.
    """

    optimizer: Literal["sgd", "lars"] = setting("sgd", "sgd (momentum 0.9) or lars (MAE's; its trust ratio "
                                                       "needs very large batches or a large lr)")
    epochs: int = setting(90, "epochs (as MAE)", min=1)
    lr: float | None = setting(None, "peak learning rate (default: base_lr x batch / 256)", min=0.0)
    base_lr: float = setting(0.1, "base lr of the scaling rule", min=0.0)
    weight_decay: float = setting(0.0, "weight decay (as MAE)", min=0.0)
    warmup_epochs: int = setting(10, "linear warm-up epochs", min=0)
    augment: bool = setting(False, "random-resized-crop + flip the training images, re-encoding them every "
                                   "epoch (slow; off: features are computed once)")


@dataclass
class KnnConfig(EvalConfig):
    """Weighted k-NN classification of frozen features (DINO protocol): Top-1 / Top-5 / balanced accuracy.

    Features are L2-normalised; each validation image takes the k most cosine-similar training images,
    which vote for their class with weight exp(similarity / T). Under torchrun the feature pass is split
    over the processes and gathered; results come from rank 0.
    """

    k: int = setting(20, "neighbours that vote (as DINO)", min=1)
    temperature: float = setting(0.07, "vote weight exp(cosine / T) (as DINO)", min=1e-6)



LINPROBE_EXAMPLES = """\
examples:
  colormae linprobe runs/demo/pretrain --data mnist5k --out runs/demo/eval
  colormae linprobe random:mae_vit_tiny_32px --data mnist5k          # the random-init baseline
  colormae linprobe ckpt.pth --data /data/imagenet optimizer=lars batch_size=16384 lr=6.4
  torchrun --nproc_per_node=4 -m colormae linprobe runs/vitb --data /data/imagenet --device cuda
""" + DATA_NOTE
KNN_EXAMPLES = """\
examples:
  colormae knn runs/demo/pretrain --data mnist5k --out runs/demo/eval
  colormae knn random:mae_vit_tiny_32px --data mnist5k --k 20 --temperature 0.07
""" + DATA_NOTE
