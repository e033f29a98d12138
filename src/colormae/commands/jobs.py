"""The job registry: which command runs which config (:mod:`colormae.jobs`) with which implementation.

A job is a config dataclass (a leaf: it imports only :mod:`colormae.config`) and a function that takes
it. The command line of a job (``--config FILE``, a ``--flag`` per setting, ``key=value`` overrides, the
``--resume`` rules and the run-folder checks) is generated here from the dataclass. Adding a job is
writing its config module and implementation and adding one :class:`Job` to :data:`JOBS`. The runners
below import their implementation lazily, so ``colormae --help`` imports no torch.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colormae.config import (
    add_config_arguments,
    changed_settings,
    check_required,
    config_from_args,
    config_keys,
    read_yaml,
)
from colormae.errors import UserError
from colormae.extras import install_hint, missing, require_extra
from colormae.jobs.demo import DemoConfig
from colormae.jobs.detect import EXAMPLES as DETECT_EXAMPLES
from colormae.jobs.detect import DetectConfig
from colormae.jobs.embed import EXAMPLES as EMBED_EXAMPLES
from colormae.jobs.embed import EmbedConfig
from colormae.jobs.finetune import EXAMPLES as FINETUNE_EXAMPLES
from colormae.jobs.finetune import FinetuneConfig
from colormae.jobs.pretrain import EXAMPLES as PRETRAIN_EXAMPLES
from colormae.jobs.pretrain import PretrainConfig
from colormae.jobs.probes import KNN_EXAMPLES, LINPROBE_EXAMPLES, EvalConfig, KnnConfig, LinprobeConfig
from colormae.jobs.segment import EXAMPLES as SEGMENT_EXAMPLES
from colormae.jobs.segment import SegmentConfig
from colormae.jobs.sweep import EXAMPLES as SWEEP_EXAMPLES
from colormae.jobs.sweep import SweepConfig
from colormae.progress import plural, warn

#: Name of the saved settings in a run directory.
RUN_CONFIG = "config.yaml"


@dataclass(frozen=True)
class Job:
    """A command backed by a config dataclass: ``run(cfg) -> exit code | None``."""

    name: str
    config: type
    run: Callable[[Any], int | None]
    help: str
    examples: str = ""
    #: Extras of :data:`colormae.extras.EXTRAS` the job needs beyond the core; checked before it starts
    #: and named in its ``--help``.
    extras: tuple[str, ...] = ()
    #: The extras a given config needs, when not all of ``extras`` (``demo --no-dense``: no [dense]).
    extras_of: Callable[[Any], tuple[str, ...]] | None = None

    def needs(self, cfg: Any) -> tuple[str, ...]:
        """The extras this run of the job needs."""
        return self.extras if self.extras_of is None else self.extras_of(cfg)


# -- runners: the implementation, then one line of results on rank 0 --------------------------------------

def _train_and_report(fn: Callable[[Any], Any], cfg: Any, report: Callable[[Any], str]) -> int:
    """Run ``fn(cfg)`` (one process or a torchrun rank), leave the process group, print ``report(result)``
    on rank 0. The shape of every training job's runner."""
    from colormae.train.distributed import cleanup_distributed, env_dist_info

    try:
        result = fn(cfg)
    finally:
        cleanup_distributed()
    if env_dist_info().is_main:
        print(report(result))
        _print_recoveries(result)
    return 0


def _print_recoveries(result: Any) -> None:
    """One line per ``on_diverge=recover`` recovery of a finished run (a FitResult or a job's report dict)."""
    from colormae.train.recover import describe

    records = result.get("recoveries", []) if isinstance(result, dict) else getattr(result, "recoveries", [])
    for record in records:
        print("  " + describe(record))


def run_pretrain(cfg: PretrainConfig) -> int:
    """Pretrain, then say where the results are."""
    from colormae.pretrain.run import pretrain

    def report(result: Any) -> str:
        loss = "n/a" if result.loss is None else f"{result.loss:.4f}"
        skipped = plural(result.skipped_images, "unreadable image")
        return (f"done: {result.step} steps, loss {loss}, {skipped} skipped; "
                f"checkpoint {result.checkpoint}; metrics {cfg.out}/metrics.jsonl")

    return _train_and_report(pretrain, cfg, report)


def run_finetune(cfg: FinetuneConfig) -> int:
    """Fine-tune and print the final validation accuracy."""
    from colormae.eval.finetune import finetune
    from colormae.eval.report import summary_line

    return _train_and_report(finetune, cfg, lambda res: (
        f"{summary_line(res)}; wrote {cfg.out}/finetune.json, checkpoint {res['checkpoint']}"))


def run_segment(cfg: SegmentConfig) -> int:
    """Fine-tune a segmentor, evaluate it and print the mIoU."""
    from colormae.transfer.segment import segment

    return _train_and_report(segment, cfg, lambda res: (
        f"segment {cfg.ckpt} on {cfg.data}: mIoU {res['mIoU']:.2f}  mAcc {res['mAcc']:.2f}  "
        f"aAcc {res['aAcc']:.2f}; wrote {cfg.out}/segment.json, checkpoint {res['checkpoint']}"))


def run_detect(cfg: DetectConfig) -> int:
    """Fine-tune a detector, evaluate it and print the box (and mask) AP."""
    from colormae.transfer.detect import detect

    def report(res: dict) -> str:
        mask = f", mask AP {res['mask']['AP']:.2f}" if "mask" in res else ""
        return (f"detect: box AP {res['box']['AP']:.2f} (AP50 {res['box']['AP50']:.2f}){mask} on "
                f"{res['val_images']} val images; wrote {cfg.out}/detect.json, {cfg.out}/detections_val.json")

    return _train_and_report(detect, cfg, report)


def _probe_and_report(cfg: EvalConfig, name: str, fn: Callable[..., dict[str, Any]]) -> int:
    from colormae.eval.report import summary_line
    from colormae.train.distributed import cleanup_distributed, init_distributed

    info, device = init_distributed(cfg.device)
    try:
        res = fn(cfg, device=device)
    finally:
        cleanup_distributed()
    if info.is_main:
        where = f"; wrote {cfg.out}/{name}.json" if cfg.out else ""
        print(summary_line(res) + where)
    return 0


def run_linprobe(cfg: LinprobeConfig) -> int:
    """Encode, fit the probe, print and write the results."""
    from colormae.eval.probes import linprobe

    return _probe_and_report(cfg, "linprobe", linprobe)


def run_knn(cfg: KnnConfig) -> int:
    """Encode, classify, print and write the results."""
    from colormae.eval.probes import knn

    return _probe_and_report(cfg, "knn", knn)


def run_embed(cfg: EmbedConfig) -> int:
    """Encode the images, write the features and say what was written."""
    from colormae.eval.embed import embed
    from colormae.train.distributed import cleanup_distributed, init_distributed

    info, device = init_distributed(cfg.device)
    try:
        res = embed(cfg, device=device)
    finally:
        cleanup_distributed()
    if info.is_main:
        print(f"embed: {res.rows} images -> {res.out} ({cfg.feature}, {' x '.join(map(str, res.shape))} per "
              f"image); file list {res.files}; {res.skipped} unreadable images skipped"
              + (f" (listed in {res.files.with_name(res.out.stem + '.skipped.txt')})" if res.skipped else ""))
    return 0


def run_sweep(cfg: SweepConfig) -> int:
    """Run or resume the sweep and say what it wrote."""
    from colormae.experiments.sweep import run_sweep as sweep

    rows = sweep(cfg)
    written = [n for n in ("results.csv", "table.md", "fig1.png") if (Path(cfg.out) / n).exists()]
    print(f"{len(rows)} rows -> {cfg.out}: {', '.join(written)}")
    return 0


def run_demo(cfg: DemoConfig) -> int:
    """Every demo step into ``cfg.out``."""
    from colormae.experiments.demo import demo

    return demo(cfg)


#: Every job, in the order ``colormae --help`` lists them.
JOBS: tuple[Job, ...] = (
    Job("pretrain", PretrainConfig, run_pretrain, "pretrain an MAE (random, block or colour-noise masks); "
        "torchrun for many GPUs", PRETRAIN_EXAMPLES),
    Job("demo", DemoConfig, run_demo, "pretrain a small ColorMAE-G on built-in data and draw the results",
        extras=("viz", "dense"), extras_of=lambda cfg: ("viz", "dense") if cfg.dense else ("viz",)),
    Job("linprobe", LinprobeConfig, run_linprobe, "linear probe of a frozen encoder (Top-1 / Top-5)",
        LINPROBE_EXAMPLES),
    Job("knn", KnnConfig, run_knn, "weighted k-NN on frozen features (Top-1 / Top-5)", KNN_EXAMPLES),
    Job("embed", EmbedConfig, run_embed, "features of every image of a folder (cls, mean or patch tokens) "
        "to .safetensors / .npy; resumable, torchrun", EMBED_EXAMPLES),
    Job("finetune", FinetuneConfig, run_finetune,
        "fine-tune an encoder end to end (recipe scaled to the data)", FINETUNE_EXAMPLES),
    Job("segment", SegmentConfig, run_segment, "semantic segmentation: UperNet on the encoder, mIoU",
        SEGMENT_EXAMPLES, extras=("dense",)),
    Job("detect", DetectConfig, run_detect, "fine-tune and evaluate a ViTDet Mask R-CNN (COCO AP)",
        DETECT_EXAMPLES, extras=("dense",)),
    Job("sweep", SweepConfig, run_sweep, "run the paper's ablations (ratio, patterns, noise, colour) and "
        "tabulate them", SWEEP_EXAMPLES),
)


# -- the command line of a job ---------------------------------------------------------------------------

def register(sub: argparse._SubParsersAction, job: Job) -> None:
    """Add ``colormae <job.name>`` with its generated arguments."""
    epilog = "\n\n".join(filter(None, [job.examples, *(_extra_line(job.name, e) for e in job.extras)]))
    parser = sub.add_parser(job.name, help=job.help, description=job.config.__doc__,
                            epilog=epilog or None, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, job.config)
    if _has(job.config, "out"):  # -o is --out for every job with an output
        parser.add_argument("-o", dest="out", default=argparse.SUPPRESS, metavar="OUT", help="same as --out")
    parser.set_defaults(job=job)


def _extra_line(name: str, extra: str) -> str:
    """``--help``'s line on an extra: what brings it, and which of its packages are missing here."""
    absent = missing(extra)
    state = f"not installed here: {', '.join(absent)}" if absent else "installed"
    return f"colormae {name} needs the [{extra}] extra ({state}): {install_hint(extra)}"


def _has(cls: type, name: str) -> bool:
    return name in config_keys(cls)


def _saved(run_dir: Path, cls: type) -> dict[str, Any]:
    """The settings a run directory recorded (keys this version no longer knows are dropped)."""
    saved = read_yaml(run_dir / RUN_CONFIG)
    keys = config_keys(cls)
    dropped = sorted(k for k in saved if k not in keys)
    if dropped:
        warn(f"{run_dir / RUN_CONFIG}: ignoring settings this version does not know: {', '.join(dropped)}")
    return {k: v for k, v in saved.items() if k in keys and config_keys(cls)[k].metadata.get("role") != "io"}


def build_config(job: Job, args: argparse.Namespace, overrides: Iterable[str] = ()) -> Any:
    """The job's config from parsed arguments, with the ``--resume`` rules of resumable jobs.

    ``--resume`` without ``--config`` starts from the run's own ``config.yaml``; a ``train`` setting
    that differs from the run's is refused unless ``--allow-changes`` (then the run is no longer
    bit-exact, and a warning says so); ``run`` settings (intervals, workers, length) may change.
    """
    cls = job.config
    overrides = list(overrides)
    cfg = config_from_args(cls, args, overrides)
    if _has(cls, "resume") and _has(cls, "out") and cfg.resume and cfg.out:
        run_dir = Path(cfg.out)
        if (run_dir / RUN_CONFIG).is_file():
            saved = _saved(run_dir, cls)
            if getattr(args, "config", None) is None:
                cfg = config_from_args(cls, args, overrides, base=saved)
            _check_changes(saved, cfg)
    check_required(cfg)
    if _has(cls, "out") and cfg.out and Path(cfg.out).exists() and not Path(cfg.out).is_dir():
        raise UserError(f"--out {cfg.out}: exists and is not a directory")
    return cfg


def _check_changes(saved: dict[str, Any], cfg: Any) -> None:
    """Refuse (or, with ``--allow-changes``, warn about) settings of a resumed run that alter training."""
    changed = changed_settings(saved, cfg)
    if changed and not getattr(cfg, "allow_changes", False):
        key, old, new = changed[0]
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        raise UserError(f"--resume: {key}={new!r} differs from the run's {key}={old!r}{more}; "
                        "a resumed run keeps its settings (pass --allow-changes to accept a run "
                        "that is no longer bit-exact)")
    if changed:
        warn("--allow-changes: " + ", ".join(f"{k} {o!r} -> {n!r}" for k, o, n in changed)
             + "; the resumed run is no longer bit-exact")


def run_job(job: Job, cfg: Any) -> int:
    """Run a job (with its CPU threads set first); a start that fails on a user mistake leaves no half-made
    run folder behind.

    Only a folder this call created, and that holds no checkpoint, is removed.
    """
    out = Path(cfg.out) if _has(type(cfg), "out") and getattr(cfg, "out", None) else None
    fresh = out is not None and not out.exists()
    try:
        for extra in job.needs(cfg):
            require_extra(extra, feature=f"colormae {job.name}")
        if _has(type(cfg), "threads"):
            from colormae.train.distributed import local_world_size
            from colormae.train.threads import configure_threads

            configure_threads(cfg.threads, local_world_size())
        return int(job.run(cfg) or 0)
    except UserError as err:
        from colormae.train.finite import TrainingDiverged

        started = isinstance(err, TrainingDiverged)  # a run that trained, then diverged: keep its record
        if fresh and not started and out.is_dir() and not any(out.rglob("*.pt")):
            shutil.rmtree(out, ignore_errors=True)
        raise
