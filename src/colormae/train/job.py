"""The scaffold of every training job (pretrain, finetune, segment, detect), written once.

A job builds one :class:`TrainJob` from its config: the loop's settings (amp resolved, the checkpoint
interval's default filled in), the effective batch, the step plan of its loader, the ``eval.jsonl`` log of
its evaluations and the head of its results report. The job itself says only what is its own: model,
data, optimizer, schedule, step function, evaluation and checkpoint payload.

The config is read through :class:`TrainJobConfig` (the attributes of
:class:`~colormae.jobs.common.TrainLoop`, :class:`~colormae.jobs.common.RunFolder` and
:class:`~colormae.jobs.common.Runtime` plus ``batch_size``), so this module knows no job.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from colormae.progress import write
from colormae.train.distributed import DistInfo
from colormae.train.loop import FitResult, StepFn
from colormae.train.plan import effective_batch, plan_steps
from colormae.train.settings import LoopSettings, resolve_amp

#: The evaluations of a run, one JSON record a line.
EVAL_FILE = "eval.jsonl"


class TrainJobConfig(Protocol):
    """What the scaffold reads of a training job's config."""

    batch_size: int
    accum_steps: int
    max_steps: int | None
    amp: str
    grad_clip: float | None
    compile: bool
    ckpt_every: int | None
    keep_last: int
    log_every: int
    out: str
    progress: bool
    on_diverge: str
    max_recoveries: int
    recover_lr_factor: float


@dataclass
class EvalLog:
    """A run's evaluation records: kept in :attr:`history`, appended to ``OUT/eval.jsonl`` (one JSON line
    each) and printed, on rank 0."""

    out: Path
    is_main: bool
    history: list[dict[str, Any]] = field(default_factory=list)

    def resume(self, step: int, steps_per_epoch: int) -> None:
        """Continue the log of a run resumed from the checkpoint of ``step``: its records up to that step
        come back into :attr:`history` and later ones (logged after the checkpoint by the attempt that
        stopped, and lines torn by a crash) leave ``eval.jsonl``, so the resumed run's log and results
        hold each evaluation once, as a straight run's. A record's step is its ``step``, or its ``epoch``
        times ``steps_per_epoch``."""
        from colormae.files import atomic_write_text
        from colormae.train.metrics import records_up_to

        path = self.out / EVAL_FILE
        if not path.is_file():
            return

        def logged_at(record: Any) -> Any:
            if not isinstance(record, dict):
                return None
            if "step" in record:
                return record["step"]
            return round(record.get("epoch", 0) * steps_per_epoch)  # epochs are logged to 3 decimals

        self.history, lines, dropped = records_up_to(path, step, logged_at)
        if self.is_main and dropped:
            atomic_write_text(path, "".join(lines))

    def add(self, record: dict[str, Any], line: str) -> None:
        """Keep ``record``, and on rank 0 append it to ``eval.jsonl`` and print ``line``."""
        self.history.append(record)
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            with (self.out / EVAL_FILE).open("a") as fh:
                fh.write(json.dumps(record) + "\n")
            write(line)


@dataclass
class TrainJob:
    """One training job's loop settings, step plan and evaluation log; see the module docstring."""

    settings: LoopSettings
    device: torch.device
    dist: DistInfo
    effective_batch: int
    evals: EvalLog
    epoch_checkpoints: bool = False  #: checkpoint every epoch unless the config sets ``ckpt_every``
    steps_per_epoch: int = 0         #: set by :meth:`plan`
    total_steps: int = 0             #: set by :meth:`plan`

    @classmethod
    def from_config(cls, cfg: TrainJobConfig, *, device: torch.device, dist: DistInfo, epochs: int | None,
                    desc: str, ckpt_every: int | None, resume: str | Path | bool | None,
                    stop_at_step: int | None) -> TrainJob:
        """The scaffold of ``cfg``'s run: ``ckpt_every`` is the job's default interval (None: one epoch),
        ``resume`` what the loop resumes from (the config's setting, or a checkpoint the job resolved)."""
        out = Path(cfg.out)
        settings = LoopSettings(
            epochs=epochs, max_steps=cfg.max_steps, accum_steps=cfg.accum_steps,
            amp=resolve_amp(cfg.amp, device.type), grad_clip=cfg.grad_clip, compile=cfg.compile, out_dir=out,
            ckpt_every=cfg.ckpt_every if cfg.ckpt_every is not None else (ckpt_every or 0),
            keep_last=cfg.keep_last, log_every=cfg.log_every, resume=resume, stop_at_step=stop_at_step,
            progress=cfg.progress, desc=desc, on_diverge=cfg.on_diverge, max_recoveries=cfg.max_recoveries,
            recover_lr_factor=cfg.recover_lr_factor)
        return cls(settings, device, dist, effective_batch(cfg, dist.world_size), EvalLog(out, dist.is_main),
                   epoch_checkpoints=cfg.ckpt_every is None and ckpt_every is None)

    @property
    def out(self) -> Path:
        """The run directory."""
        assert self.settings.out_dir is not None
        return self.settings.out_dir

    def plan(self, loader: Iterable, too_small: str) -> tuple[int, int]:
        """``(steps_per_epoch, total_steps)`` of the run (``too_small``: the error when the data cannot
        fill one step per epoch); fills in an epoch-long checkpoint interval."""
        s = self.settings
        self.steps_per_epoch, self.total_steps = plan_steps(
            loader, epochs=s.epochs, accum_steps=s.accum_steps, max_steps=s.max_steps, too_small=too_small)
        if self.epoch_checkpoints:
            self.settings = dataclasses.replace(s, ckpt_every=self.steps_per_epoch)
        return self.steps_per_epoch, self.total_steps

    def fit(self, model: nn.Module, loader: Iterable, step_fn: StepFn, optimizer: torch.optim.Optimizer,
            lr_schedule: Callable[[int], float], **hooks: Any) -> FitResult:
        """Run :func:`~colormae.train.engine.fit` with this job's settings; ``hooks``: its other keywords
        (``on_epoch_start``, ``on_step_end``, ``generators``, ``payload``)."""
        from colormae.train.checkpoint import checkpoint_step
        from colormae.train.engine import fit, resolve_resume

        resume = resolve_resume(self.settings.resume, self.out)
        if resume is not None:
            self.evals.resume(checkpoint_step(resume), self.steps_per_epoch)
        settings = dataclasses.replace(self.settings, resume=resume)
        return fit(model, loader, step_fn, optimizer, lr_schedule, device=self.device, dist=self.dist,
                   **settings.as_kwargs(), **hooks)

    def report(self, kind: str, cfg: Any, result: FitResult, lead: dict[str, Any] | None = None,
               **fields: Any) -> dict[str, Any]:
        """The results dict of a transfer job: ``eval``, ``checkpoint``, ``source``, ``data``, then ``lead``,
        ``steps``, ``train_loss``, then ``fields``."""
        return {"eval": kind, "checkpoint": str(result.checkpoint), "source": str(cfg.ckpt), "data": cfg.data,
                **(lead or {}), "steps": result.step, "train_loss": result.loss, **fields,
                **({"recoveries": result.recoveries} if result.recoveries else {})}
