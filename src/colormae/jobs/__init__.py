"""Jobs: one dataclass of settings and one function each; the command line is generated from them.

A job module defines its config dataclass (each setting declared once with
:func:`colormae.config.setting`) and ``JOBS = (Job(...), ...)`` naming the function that runs each. Adding
a job is writing that module and listing it in :data:`JOB_MODULES`: ``colormae <name> --help``, ``--config
FILE``, ``--flags``, ``key=value`` overrides, ``--resume`` rules and the run-folder checks come from
here. Job modules import no torch at module level, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
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

#: Modules defining ``JOBS``, in the order ``colormae --help`` lists them.
JOB_MODULES: tuple[str, ...] = ("colormae.jobs.pretrain", "colormae.experiments.demo", "colormae.jobs.probes",
                                "colormae.jobs.finetune", "colormae.jobs.segment", "colormae.jobs.detect",
                                "colormae.jobs.sweep")
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


def load_jobs() -> list[Job]:
    """Every registered :class:`Job`."""
    return [job for name in JOB_MODULES for job in importlib.import_module(name).JOBS]


def register(sub: argparse._SubParsersAction, job: Job) -> None:
    """Add ``colormae <job.name>`` with its generated arguments."""
    parser = sub.add_parser(job.name, help=job.help, description=job.config.__doc__,
                            epilog=job.examples or None, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, job.config)
    parser.set_defaults(job=job)


def warn(message: str) -> None:
    """One ``warning:`` line on stderr (no source line, unlike ``warnings.warn``)."""
    print(f"warning: {message}", file=sys.stderr)


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
    check_required(cfg)
    if _has(cls, "out") and cfg.out and Path(cfg.out).exists() and not Path(cfg.out).is_dir():
        raise UserError(f"--out {cfg.out}: exists and is not a directory")
    return cfg


def run_job(job: Job, cfg: Any) -> int:
    """Run a job (with its CPU threads set first); a start that fails on a user mistake leaves no half-made
    run folder behind.

    Only a folder this call created, and that holds no checkpoint, is removed.
    """
    out = Path(cfg.out) if _has(type(cfg), "out") and getattr(cfg, "out", None) else None
    fresh = out is not None and not out.exists()
    try:
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


def run_and_report(fn: Callable[[Any], Any], cfg: Any, report: Callable[[Any], str]) -> int:
    """Run ``fn(cfg)`` (one process or a torchrun rank), leave the process group, print ``report(result)``
    on rank 0. The shape of every training job's ``run``."""
    from colormae.train.distributed import cleanup_distributed, env_dist_info

    try:
        result = fn(cfg)
    finally:
        cleanup_distributed()
    if env_dist_info().is_main:
        print(report(result))
    return 0


def settings_of(cfg: Any) -> dict[str, Any]:
    """``{name: value}`` of a config dataclass (a shallow ``asdict``)."""
    return {f.name: getattr(cfg, f.name) for f in fields(cfg)}
