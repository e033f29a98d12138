"""The one training loop shared by pretraining and fine-tuning.

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
* SIGINT / SIGTERM only set a flag (:mod:`colormae.train.signals`); at each step boundary the ranks agree
  on it (one 1-element all-reduce when distributed), save together with every rank's random state,
  and raise :class:`~colormae.train.signals.TrainingInterrupted`. Nothing can interrupt an optimizer
  step before its step counter moves, nor a checkpoint write.
* At start: temporary files of a write killed mid-way are removed, a newest checkpoint that does not
  open is set aside (``*.corrupt``) for the previous one, and ``metrics.jsonl`` is cut back to the
  starting step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from colormae.errors import UserError
from colormae.progress import progress as progress_bar
from colormae.progress import warn, write
from colormae.ranks import all_reduce
from colormae.train import checkpoint as ckpt_io
from colormae.train.distributed import DistInfo, RankVote, all_gather_object, barrier
from colormae.train.finite import NonFiniteTracker, TrainingDiverged, weights_finite
from colormae.train.metrics import MetricsLogger, peak_memory_mb
from colormae.train.rng import capture_rng, restore_rng
from colormae.train.signals import (
    ForcedQuit,
    StopSignals,
    TrainingInterrupted,
    shield_loader_workers,
    signal_name,
)

StepFn = Callable[[nn.Module, Any, int], "tuple[torch.Tensor, dict[str, float]]"]
AMP_MODES = ("none", "bf16", "fp16")


@dataclass
class FitResult:
    """How a :func:`fit` call ended."""

    step: int                  #: optimizer steps done in total
    epoch: int                 #: full epochs done
    loss: float | None         #: mean loss of the last logging interval (all ranks)
    checkpoint: Path | None = None  #: the last checkpoint written (rank 0)
    model: nn.Module | None = None  #: the trained model (the raw module, not the DDP / compiled wrapper)
    skipped_images: int = 0    #: unreadable images the data set skipped (set by the job, all ranks)


def _batches_per_epoch(loader: Iterable) -> int:
    """Micro-batches per full epoch on this rank (ignoring any resume offset of the sampler)."""
    sampler = getattr(loader, "sampler", None)
    batch_size = getattr(loader, "batch_size", None)
    if sampler is not None and hasattr(sampler, "num_samples") and batch_size:
        per_rank = sampler.num_samples
        if getattr(loader, "drop_last", False):
            return per_rank // batch_size
        return math.ceil(per_rank / batch_size)
    return len(loader)  # type: ignore[arg-type]


def _start_epoch(loader: Iterable, epoch: int, skip_batches: int) -> Any:
    """Position the loader at ``skip_batches`` into ``epoch`` and return its iterator."""
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    if skip_batches and hasattr(sampler, "set_start"):
        sampler.set_start(skip_batches * loader.batch_size)  # type: ignore[attr-defined]
        return iter(loader)
    it = iter(loader)
    for _ in range(skip_batches):  # a plain loader: read and drop what the run already consumed
        next(it)
    return it


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


def plan_steps(loader: Iterable, *, epochs: int | None, accum_steps: int = 1, max_steps: int | None = None,
               too_small: str | None = None) -> tuple[int, int]:
    """``(steps_per_epoch, total_steps)`` that :func:`fit` will run for these settings.

    Jobs call it to size their lr schedule; ``too_small`` replaces the default message of the
    :class:`UserError` raised when the data set cannot fill one optimizer step per epoch.
    """
    steps_per_epoch = _batches_per_epoch(loader) // accum_steps
    if steps_per_epoch < 1:
        raise UserError(too_small or "the dataset is too small for one optimizer step per epoch: it needs at "
                        "least batch_size x accum_steps x world_size samples")
    if epochs is None:  # the run's length is given in steps alone
        if max_steps is None:
            raise UserError("give the run's length: epochs or max_steps")
        return steps_per_epoch, max_steps
    total_steps = epochs * steps_per_epoch
    return steps_per_epoch, total_steps if max_steps is None else min(total_steps, max_steps)


def fit(model: nn.Module, loader: Iterable, step_fn: StepFn, optimizer: torch.optim.Optimizer,
        lr_schedule: Callable[[int], float], *, epochs: int | None, max_steps: int | None = None,
        accum_steps: int = 1, amp: str = "none", grad_clip: float | None = None, compile: bool = False,
        device: torch.device | str = "cpu", dist: DistInfo | None = None,
        out_dir: str | Path | None = None, ckpt_every: int = 1000, keep_last: int = 3, log_every: int = 10,
        resume: str | Path | bool | None = None, stop_at_step: int | None = None,
        on_epoch_start: Callable[[int], None] | None = None,
        on_step_end: Callable[[int], None] | None = None,
        generators: dict[str, torch.Generator] | None = None, payload: dict[str, Any] | None = None,
        progress: bool = True, desc: str = "train") -> FitResult:
    """Train ``model`` (already on ``device``) and return how it ended. See the module docstring.

    ``step_fn(model, batch, step)`` gets the (possibly DDP / compiled) model and a loader batch and
    returns ``(loss: scalar tensor, metrics: dict[str, float | tensor])``; it runs under autocast.
    Total optimizer steps: ``min(epochs * (len(loader) // accum_steps), max_steps)``.
    ``on_epoch_start(epoch)`` runs before each epoch's first batch; ``on_step_end(step)`` after each
    optimizer step (``step`` counts completed steps), before that step is logged or checkpointed (e.g. an
    EMA of the weights, whose state then lands in the same checkpoint).

    Raises :class:`~colormae.train.finite.TrainingDiverged` when the loss or the weights stop being
    finite, and :class:`~colormae.train.signals.TrainingInterrupted` (a ``KeyboardInterrupt``) after
    saving on SIGINT / SIGTERM.
    """
    dist = dist or DistInfo()
    device = torch.device(device)
    out_dir = Path(out_dir) if out_dir is not None else None
    if amp not in AMP_MODES:
        raise UserError(f"amp: {amp!r} is not one of {', '.join(AMP_MODES)}")
    if amp == "fp16" and device.type != "cuda":
        raise UserError("amp: fp16 needs a CUDA device (use bf16 on CPU)")
    if accum_steps < 1:
        raise UserError(f"accum_steps: must be >= 1, got {accum_steps}")
    steps_per_epoch, total_steps = plan_steps(loader, epochs=epochs, accum_steps=accum_steps,
                                              max_steps=max_steps)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")
    autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    generators = generators or {}

    if out_dir is not None and dist.is_main:
        stale = ckpt_io.remove_stale_temporaries(out_dir)
        if stale:
            write(f"removed {len(stale)} temporary checkpoint file(s) left by an interrupted write")
    step = 0
    resume_path = resolve_resume(resume, out_dir)
    if resume_path is not None:
        state = ckpt_io.load_checkpoint(resume_path, map_location="cpu")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        step = int(state["step"])
        if state.get("steps_per_epoch", steps_per_epoch) != steps_per_epoch and dist.is_main:
            warn(f"{resume_path}: saved with {state['steps_per_epoch']} steps per epoch, now "
                 f"{steps_per_epoch} (batch size, data or processes changed): the data order "
                 "will not continue exactly")
        ranks = state.get("rng", {}).get("ranks", [])
        if dist.rank < len(ranks) and len(ranks) == dist.world_size:
            restore_rng(ranks[dist.rank], generators)
        elif dist.is_main:
            warn(f"{resume_path}: saved with {len(ranks)} RNG stream(s) for {dist.world_size} "
                 "process(es); continuing with fresh random streams (not bit-exact)")
        del state
        if dist.is_main:
            write(f"resuming from {resume_path} at step {step}")

    model.train()
    train_model: nn.Module = model
    ddp_model = None
    if dist.distributed:
        from torch.nn.parallel import DistributedDataParallel

        ddp_model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
        train_model = ddp_model
    if compile:
        train_model = torch.compile(train_model)  # type: ignore[assignment]
    stop_vote = RankVote(dist)  # SIGINT / SIGTERM on any rank stops every rank at the same step
    shield_loader_workers(loader)

    if out_dir is not None and dist.is_main and payload and payload.get("config") is not None:
        from colormae.config import write_config

        write_config(payload["config"], out_dir / "config.yaml")
    logger = MetricsLogger(out_dir, enabled=dist.is_main, start_step=step)
    bar = progress_bar(total=total_steps, initial=step, desc=desc, unit="step",
                       enabled=progress and dist.is_main)
    last_ckpt: Path | None = None      # the last checkpoint this run wrote (rank 0)
    good_ckpt: Path | None = resume_path  # the last finite checkpoint, known on every rank
    saved_step = step if resume_path is not None else -1
    rng_at_step = capture_rng(generators)  # RNG at the last step boundary (what a checkpoint must hold)
    nonfinite = NonFiniteTracker(device)
    interval = {"loss": torch.zeros((), device=device), "n": 0, "extra": {}, "t0": time.perf_counter(),
                "samples": 0}
    last_loss: float | None = None
    current_lr = lr_schedule(step)

    def diverged(what: str) -> TrainingDiverged:
        where = f"last good checkpoint {good_ckpt}" if good_ckpt is not None else "no checkpoint was saved"
        return TrainingDiverged(f"training diverged: {what}; {where} (lower the lr, set grad_clip or use "
                                "amp=bf16)")

    def check_finite(step_now: int, *, weights: bool, collective: bool = True) -> None:
        bad = nonfinite.first_bad_step(dist if collective else None)
        if bad is not None:
            raise diverged(f"the loss is not finite at step {bad}")
        if weights and not weights_finite(model):
            raise diverged(f"the weights are not finite after step {step_now}")

    def save(step_now: int, collective: bool = True) -> Path | None:
        """Checkpoint ``step_now`` (rank 0 writes); never a non-finite one, never cut short by a signal."""
        nonlocal good_ckpt
        check_finite(step_now, weights=True, collective=collective)
        states = all_gather_object(rng_at_step, dist) if collective else [rng_at_step]
        if out_dir is None:
            return None
        path = out_dir / ckpt_io.CKPT_DIR / ckpt_io.checkpoint_name(step_now)
        if dist.is_main:
            with signals.saving():
                ckpt_io.save_checkpoint(path, {
                    **(payload or {}), "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scaler": scaler.state_dict(), "rng": {"ranks": states}, "step": step_now,
                    "epoch": step_now // steps_per_epoch, "steps_per_epoch": steps_per_epoch,
                    "total_steps": total_steps})
                ckpt_io.prune_checkpoints(out_dir, keep_last)
        good_ckpt = path
        return path if dist.is_main else None

    def log(step_now: int) -> float:
        loss = interval["loss"] / max(1, interval["n"])
        if dist.distributed:
            loss = all_reduce(loss) / dist.world_size
        value = float(loss)  # the host sync of a logging step; the divergence check rides on it
        check_finite(step_now, weights=False)
        elapsed = time.perf_counter() - interval["t0"]
        record = {"step": step_now, "epoch": step_now / steps_per_epoch, "loss": value, "lr": current_lr,
                  "img_per_s": interval["samples"] * dist.world_size / max(elapsed, 1e-9),
                  "peak_mem_mb": peak_memory_mb(device)}
        record.update({k: v / max(1, interval["n"]) for k, v in interval["extra"].items()})
        logger.log(record)
        bar.set_postfix(loss=f"{value:.4f}", lr=f"{record['lr']:.2e}")
        interval.update(loss=torch.zeros((), device=device), n=0, extra={}, t0=time.perf_counter(), samples=0)
        return value

    def stop_here(signum: int) -> None:
        """Stop at this step boundary (every rank together): save with every rank's RNG, then raise."""
        nonlocal last_ckpt, saved_step
        if step != saved_step:
            last_ckpt = save(step) or last_ckpt
            saved_step = step
        with signals.saving():
            barrier(dist)  # nobody exits (and makes torchrun kill the rest) while rank 0 writes
        stop_vote.finish()  # every rank submitted this boundary's vote: collect it, leave nothing in flight
        bar.close()
        why = signal_name(signum)
        if dist.is_main:
            saved = f"saved {good_ckpt}" if out_dir is not None else "nothing saved (no out_dir)"
            write(f"stopped by {why} at step {step}: {saved}; continue with --resume")
        raise TrainingInterrupted(f"stopped by {why} at step {step}", signum=signum)

    end_step = total_steps if stop_at_step is None else min(total_steps, stop_at_step)
    consistent = True  # False from the optimizer step until the step counter and RNG snapshot follow it
    signals = StopSignals().install()
    try:
        while step < end_step:
            epoch = step // steps_per_epoch
            if on_epoch_start is not None:
                on_epoch_start(epoch)
            batches = _start_epoch(loader, epoch, (step - epoch * steps_per_epoch) * accum_steps)
            while step < end_step and step < (epoch + 1) * steps_per_epoch:
                current_lr = lr_schedule(step)
                for group in optimizer.param_groups:
                    group["lr"] = current_lr * group.get("lr_scale", 1.0)
                for micro in range(accum_steps):
                    batch = next(batches)
                    final_micro = micro == accum_steps - 1
                    sync = ddp_model.no_sync() if ddp_model is not None and not final_micro else nullcontext()
                    with sync:
                        with torch.autocast(device.type, dtype=autocast_dtype or torch.bfloat16,
                                            enabled=autocast_dtype is not None):
                            loss, extra = step_fn(train_model, batch, step)
                        scaler.scale(loss / accum_steps).backward()
                    detached = loss.detach().float()
                    nonfinite.record(detached, step + 1)
                    interval["loss"] += detached
                    interval["n"] += 1
                    interval["samples"] += _batch_len(batch)
                    for key, value in extra.items():
                        interval["extra"][key] = interval["extra"].get(key, 0.0) + float(value)
                if grad_clip is not None:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                # from here to the RNG snapshot the weights and the step counter disagree; signals
                # only set a flag, so nothing but a forced quit can stop the program in between
                consistent = False
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                if on_step_end is not None:
                    on_step_end(step)
                rng_at_step = capture_rng(generators)
                consistent = True
                bar.update(1)
                if step % log_every == 0 or step == end_step:
                    last_loss = log(step)
                if ckpt_every > 0 and step % ckpt_every == 0:
                    last_ckpt = save(step) or last_ckpt
                    saved_step = step
                stop_signum = stop_vote.submit(signals.signum or 0)  # the same answer on every rank
                if stop_signum:
                    stop_here(stop_signum)
        if step != saved_step:
            last_ckpt = save(step) or last_ckpt
            saved_step = step
        late = stop_vote.finish()  # a request in the last step: the run is complete and saved
        if late:
            stop_here(late)
    except TrainingInterrupted:
        raise
    except TrainingDiverged:  # raised on every rank at the same collective check: the vote can be collected
        stop_vote.finish()
        raise
    except KeyboardInterrupt as err:  # raised by the job's own code (or a forced quit), not by a signal
        bar.close()
        if isinstance(err, ForcedQuit) or not consistent:
            if dist.is_main:
                write(f"quit mid-step without saving; the last checkpoint is {good_ckpt}")
            raise
        if step != saved_step and out_dir is not None:
            with signals.saving():
                last_ckpt = save(step, collective=False) or last_ckpt  # the other ranks cannot be asked
            if dist.is_main:
                write(f"interrupted: saved {last_ckpt} (step {step}); continue with --resume")
        raise
    finally:
        signals.restore()
        bar.close()
        logger.close()
    return FitResult(step=step, epoch=step // steps_per_epoch, loss=last_loss, checkpoint=last_ckpt,
                     model=model)


def _batch_len(batch: Any) -> int:
    """Number of samples in a batch: the first dimension of its first tensor."""
    first = batch[0] if isinstance(batch, (list, tuple)) else batch
    if isinstance(first, dict):
        first = next(iter(first.values()))
    return int(first.shape[0]) if isinstance(first, torch.Tensor) else len(first)
