"""Settings that several jobs share, declared once: where a run goes and how this invocation runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from colormae.config import setting

#: What every job that reads a model accepts as CKPT.
CKPT_HELP = ("a colormae run directory or checkpoint, a foreign checkpoint (facebookresearch/mae, "
             "mmpretrain / official ColorMAE, Hugging Face, timm; converted on the fly), or "
             "random:<preset> (e.g. random:mae_vit_tiny_32px) for a randomly initialised encoder")
#: The help of ``init_channels`` (every job that starts from a checkpoint).
INIT_CHANNELS_HELP = ("when the data's images have another channel count than the checkpoint (e.g. 4 bands, "
                      "RGB weights), map its patch embedding to them: mean (every band the mean of the "
                      "filters, rescaled), names (bands named red/green/blue in the data's stats file), "
                      "auto (names when some band is so named, else mean) or BAND:R,BAND:G,BAND:B (others "
                      "start at zero); none: a channel mismatch is refused")
#: The help of ``normalize`` in the dense jobs (segment, detect).
DENSE_NORMALIZE_HELP = ("input normalisation: imagenet (3 channels; grey equivalent for 1), dataset (the "
                        "data folder's colormae_stats.json, else computed from its train images), none; "
                        "auto: the statistics the checkpoint was trained with (random:<preset> or "
                        "init_channels: imagenet for 3 channels, else dataset)")
#: The help of ``bands`` in the dense jobs' figures.
BANDS_HELP = ("bands shown in the figure: three 1-based band numbers as RGB (e.g. 4,2,1) or one as grey "
              "(default: the first three, or band 1 of 1- and 2-band images)")
#: The help of ``stats_file`` (every job whose normalisation can be the data set's).
STATS_FILE_HELP = ("normalize=dataset: read the statistics from this file (`colormae data stats DIR -o "
                   "FILE`, for a read-only DIR) instead of DIR's own or the per-user cache's")
#: The help of ``layer`` (the jobs that read frozen features: linprobe, knn, embed).
LAYER_HELP = ("read the tokens after this encoder block (0-based, negative from the end), normed by the "
              "final norm as DINOv2's probes (default: the last)")
#: What every job that reads images accepts as DATA.
DATA_HELP = ("built-in data set (mnist5k, photos, natural: the last needs the Debian package "
             "gcompris-qt-data), an ImageFolder path (evaluation: with train/ and val/ class folders), "
             "tar shards (a `colormae data shard` folder or shards/train-{000000..000127}.tar) or hf:PATH "
             "(a Hugging Face data set on disk; ?image_column=&label_column= when not obvious)")


@dataclass
class Runtime:
    """How this invocation runs: device, CPU threads, progress output."""

    device: str | None = setting(None, "cpu, cuda, cuda:N or auto (default: under torchrun cuda:LOCAL_RANK, "
                                       "else cuda when available)", role="io")
    threads: int | None = setting(None, "CPU threads per process (default: its share of the cores it may "
                                        "use that other work leaves idle, or OMP_NUM_THREADS when set)",
                                  role="io", min=1)
    progress: bool = setting(True, "show progress (a bar on a terminal, plain periodic lines otherwise)",
                             role="io")


@dataclass
class RunFolder:
    """A training job's run directory and how to continue it."""

    out: str = setting("", "run directory: checkpoints/, metrics.jsonl, tb/, config.yaml", role="io",
                       required=True, metavar="DIR")
    resume: str | None = setting(None, "continue a run bit-exactly: alone, from the newest checkpoint in "
                                       "--out (with the run's own config.yaml); with PATH, from that "
                                       "checkpoint or run directory", role="io", const="auto", metavar="PATH")
    allow_changes: bool = setting(False, "let --resume change settings that alter training (the run is then "
                                         "no longer bit-exact)", role="io")


@dataclass
class TrainLoop:
    """Settings of the shared training engine that mean the same in every training job."""

    max_steps: int | None = setting(None, "train this many optimizer steps (the lr schedule spans them; with "
                                          "epochs=none the run length is set by this alone)",
                                    role="run", min=1)
    warmup_steps: int | None = setting(None, "lr warm-up in optimizer steps (overrides warmup_epochs)",
                                       min=0)
    accum_steps: int = setting(1, "gradient accumulation micro-steps per optimizer step", min=1)
    grad_clip: float | None = setting(None, "clip gradients to this global norm", min=0.0)
    amp: Literal["auto", "none", "bf16", "fp16"] = setting(
        "auto", "mixed precision (auto: bf16 on CUDA, none on CPU)")
    compile: bool = setting(False, "torch.compile the model", role="run")
    seed: int = setting(0, "seed of initialisation, data order, augmentation and masks", min=0)
    num_workers: int | None = setting(None, "data-loading worker processes per device (0: load in the main "
                                            "process; default: from the CPUs available)", role="run", min=0)
    ckpt_every: int | None = setting(None, "write a checkpoint every N optimizer steps (0: only the final "
                                           "one; default: the job's)", role="run", min=0)
    keep_last: int = setting(2, "keep the newest K step checkpoints (0: keep all)", role="run", min=0)
    log_every: int = setting(10, "log metrics every N optimizer steps", role="run", min=1)
    on_diverge: Literal["stop", "recover"] = setting(
        "stop", "when the loss or the weights stop being finite: stop (naming the last good checkpoint) or "
                "recover: roll back to the last checkpoint (kept in memory) and go on with the next remedy: "
                "skip that step's batch, then lower the lr, then run the step in fp32; each one is a record "
                "in metrics.jsonl", role="run")
    max_recoveries: int = setting(3, "on_diverge=recover: recoveries allowed before the run stops",
                                  role="run", min=0)
    recover_lr_factor: float = setting(0.5, "on_diverge=recover: the lr's multiplier per lower-lr remedy",
                                       role="run", min=0.0, below=1.0)


@dataclass
class LabelFiles:
    """Labels from a file instead of class sub-folders: several classes an image, or numbers."""

    labels: str | None = setting(None, "a CSV or JSON label file: image path -> several class names "
                                       "(path,labels with a;b or a|b), one 0/1 column per class, or numbers "
                                       "(regression); paths relative to the data folder (else to the file's "
                                       "folder); train/val from labels_val, a split column, or train/ and "
                                       "val/ path prefixes", metavar="FILE")
    labels_val: str | None = setting(None, "the validation split's label file (labels= is then the training "
                                           "split)", metavar="FILE")
    label_columns: list[str] | None = setting(None, "the columns of the label file to read (a list column, "
                                                    "class columns or number columns; default: a column "
                                                    "named labels, else every column but the path and split)")
    task: Literal["auto", "multilabel", "regression"] = setting(
        "auto", "with labels: multilabel (sigmoid / BCE heads, mAP, F1) or regression (MSE heads; MSE, MAE, "
                "R2); auto: regression when a label cell is a number other than 0 or 1")
