"""The one training loop shared by pretraining and fine-tuning.

The loop's pieces (restore, step, log, save, stop) are the methods of :class:`colormae.train.loop.TrainRun`;
its settings are one :class:`colormae.train.settings.LoopSettings`; :func:`fit` builds and runs it.

A job supplies the model, a loader (:func:`colormae.train.loader.build_train_loader`), an optimizer, an
lr schedule and a ``step_fn(model, batch, step) -> (loss, metrics)``; :func:`fit` does the rest:
per-step lr (times each group's ``lr_scale``), gradient accumulation with DDP ``no_sync`` on
non-final micro-steps, bf16 autocast or fp16 with a ``GradScaler`` (CUDA), gradient clipping, optional
``torch.compile``, atomic checkpoints every N steps keeping the last K plus a final one, bit-exact
resume (model, optimizer, scaler, step, data position and every RNG stream of every rank), metrics
(``metrics.jsonl`` + TensorBoard), a progress bar, and a checkpoint on Ctrl-C or SIGTERM. Only rank 0
writes.

Robustness, in one place:

* A non-finite loss is tracked on the device every step (:mod:`colormae.train.finite`) and read where
  the loop syncs anyway (logging) and before every checkpoint, which also checks the weights: a
  diverged run stops with :class:`~colormae.train.finite.TrainingDiverged` naming the step and the last
  good checkpoint, and never writes (nor prunes towards) a non-finite one.
  With ``on_diverge="recover"`` it rolls back to its last good state instead (an in-memory snapshot of
  the last checkpoint, or of the start) and trains on with the next remedy, at most ``max_recoveries``
  times (:mod:`colormae.train.recover`); each recovery is a record in ``metrics.jsonl``.
* SIGINT / SIGTERM only set a flag (:mod:`colormae.train.signals`); at each step boundary the ranks agree
  on it (one 1-element all-reduce when distributed), save together with every rank's random state,
  and raise :class:`~colormae.train.signals.TrainingInterrupted`. Nothing can interrupt an optimizer
  step before its step counter moves, nor a checkpoint write.
* At start: temporary files of a write killed mid-way are removed, a newest checkpoint that does not
  open is set aside (``*.corrupt``) for the previous one, and ``metrics.jsonl`` is cut back to the
  starting step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from colormae.errors import UserError
from colormae.progress import write
from colormae.train import checkpoint as ckpt_io
from colormae.train.distributed import DistInfo
from colormae.train.loop import FitResult, Hooks, StepFn, TrainRun
from colormae.train.plan import plan_steps
from colormae.train.settings import LoopSettings

__all__ = ["fit", "resolve_resume"]


def resolve_resume(resume: str | Path | bool | None, out_dir: Path | None) -> Path | None:
    """The checkpoint to resume from: ``True`` = newest in ``out_dir`` (None if there is none).

    ``True`` or a run directory: the newest checkpoint that opens; a newer one that does not (truncated
    by a crash) is set aside as ``*.pt.corrupt`` with a warning. A file: that file.
    """
    if resume is None or resume is False:
        if out_dir is not None and ckpt_io.latest_checkpoint(out_dir) is not None:
            raise UserError(f"{out_dir} already holds checkpoints: pass --resume to continue that run, "
                            "or choose a new --out")
        return None
    if resume is True or resume == "auto":
        return ckpt_io.newest_readable_checkpoint(out_dir) if out_dir is not None else None
    if Path(resume).is_dir():  # a run directory: its newest checkpoint that opens
        found = ckpt_io.newest_readable_checkpoint(resume)
        if found is None:
            expected = Path(resume) / ckpt_io.CKPT_DIR / "step-*.pt"
            raise UserError(f"{resume}: no readable checkpoints found (expected {expected})")
        return found
    return ckpt_io.resolve_checkpoint(resume)


def fit(model: nn.Module, loader: Iterable, step_fn: StepFn, optimizer: torch.optim.Optimizer,
        lr_schedule: Callable[[int], float], *, epochs: int | None, max_steps: int | None = None,
        accum_steps: int = 1, amp: str = "none", grad_clip: float | None = None, compile: bool = False,
        device: torch.device | str = "cpu", dist: DistInfo | None = None,
        out_dir: str | Path | None = None, ckpt_every: int = 1000, keep_last: int = 3, log_every: int = 10,
        resume: str | Path | bool | None = None, stop_at_step: int | None = None,
        on_epoch_start: Callable[[int], None] | None = None,
        on_step_end: Callable[[int], None] | None = None,
        monitor: Callable[[int, Any], None] | None = None, logger: str = "tensorboard",
        generators: dict[str, torch.Generator] | None = None, payload: dict[str, Any] | None = None,
        progress: bool = True, desc: str = "train", on_diverge: str = "stop", max_recoveries: int = 3,
        recover_lr_factor: float = 0.5) -> FitResult:
    """Train ``model`` (already on ``device``) and return how it ended. See the module docstring.

    ``step_fn(model, batch, step)`` gets the (possibly DDP / compiled) model and a loader batch and
    returns ``(loss: scalar tensor, metrics: dict[str, float | tensor])``; it runs under autocast.
    Total optimizer steps: ``min(epochs * (len(loader) // accum_steps), max_steps)``.
    ``on_epoch_start(epoch)`` runs before each epoch's first batch; ``on_step_end(step)`` after each
    optimizer step (``step`` counts completed steps), before that step is logged or checkpointed (e.g. an
    EMA of the weights, whose state then lands in the same checkpoint); ``monitor(step, metrics_logger)`` on
    rank 0 at the start and after every step (:class:`~colormae.train.loop.Hooks`); ``logger`` names the
    logging backends (:mod:`colormae.train.loggers`). The loop's settings are those of
    :class:`~colormae.train.settings.LoopSettings` (a job passes ``**settings.as_kwargs()``).

    Raises :class:`~colormae.train.finite.TrainingDiverged` when the loss or the weights stop being
    finite (with ``on_diverge="recover"``: only after ``max_recoveries`` roll-backs, see
    :mod:`colormae.train.recover`), and :class:`~colormae.train.signals.TrainingInterrupted` (a
    ``KeyboardInterrupt``) after saving on SIGINT / SIGTERM.
    """
    dist = dist or DistInfo()
    device = torch.device(device)
    settings = LoopSettings(epochs=epochs, max_steps=max_steps, accum_steps=accum_steps, amp=amp,
                            grad_clip=grad_clip, compile=compile,
                            out_dir=Path(out_dir) if out_dir is not None else None, ckpt_every=ckpt_every,
                            keep_last=keep_last, log_every=log_every, resume=resume,
                            stop_at_step=stop_at_step, progress=progress, desc=desc, on_diverge=on_diverge,
                            max_recoveries=max_recoveries, recover_lr_factor=recover_lr_factor)
    settings.check(device.type)
    steps_per_epoch, total_steps = plan_steps(loader, epochs=epochs, accum_steps=accum_steps,
                                              max_steps=max_steps)
    run = TrainRun(model, loader, step_fn, optimizer, lr_schedule, settings, device=device, dist=dist,
                   steps_per_epoch=steps_per_epoch, total_steps=total_steps,
                   hooks=Hooks(on_epoch_start, on_step_end, monitor, logger), generators=generators or {},
                   payload=payload)
    if settings.out_dir is not None and dist.is_main:
        stale = ckpt_io.remove_stale_temporaries(settings.out_dir)
        if stale:
            write(f"removed {len(stale)} temporary checkpoint file(s) left by an interrupted write")
    run.restore(resolve_resume(resume, settings.out_dir))
    run.prepare()
    return run.run()
