"""One call of the training loop as an object: restore, step, log, save, stop (:mod:`colormae.train.engine`).

:class:`TrainRun` holds what the loop's pieces share (the step counter, the scaler, the RNG snapshot of the
last step boundary, the last checkpoints, the logging interval); each method is one of those pieces, and
:meth:`TrainRun.run` strings them together. :func:`colormae.train.engine.fit` builds and runs one.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from colormae.errors import UserError
from colormae.files import WriteFailed, atomic_write_text
from colormae.progress import progress as progress_bar
from colormae.progress import warn, write
from colormae.ranks import all_reduce
from colormae.train import checkpoint as ckpt_io
from colormae.train.distributed import (
    DistInfo,
    LostRank,
    RankVote,
    all_gather_object,
    barrier,
    collective_error_line,
    is_lost_peer,
)
from colormae.train.finite import NonFiniteTracker, TrainingDiverged, weights_finite
from colormae.train.heartbeat import Heartbeat
from colormae.train.metrics import MetricsLogger, peak_memory_mb
from colormae.train.recover import Recovery, Snapshot, describe
from colormae.train.rng import capture_rng, restore_rng
from colormae.train.settings import LoopSettings
from colormae.train.signals import (
    ForcedQuit,
    StopSignals,
    TrainingInterrupted,
    shield_loader_workers,
    signal_name,
)


class OutOfMemory(UserError):
    """A training step needed more device memory than there is (torch's ``OutOfMemoryError``)."""


StepFn = Callable[[nn.Module, Any, int], "tuple[torch.Tensor, dict[str, float]]"]
#: Steps whose start time and data wait :class:`TrainRun` keeps (:attr:`FitResult.step_clock`).
CLOCK_STEPS = 1024


@dataclass
class FitResult:
    """How a :func:`~colormae.train.engine.fit` call ended."""

    step: int                  #: optimizer steps done in total
    epoch: int                 #: full epochs done
    loss: float | None         #: mean loss of the last logging interval (all ranks)
    checkpoint: Path | None = None  #: the last checkpoint written (rank 0)
    model: nn.Module | None = None  #: the trained model (the raw module, not the DDP / compiled wrapper)
    skipped_images: int = 0    #: unreadable images the data set skipped (set by the job, all ranks)
    recoveries: list[dict[str, Any]] = field(default_factory=list)  #: ``on_diverge=recover``'s records
    steps_per_epoch: int = 0   #: optimizer steps per epoch of this run
    #: ``(start, data_s)`` of the last :data:`CLOCK_STEPS` optimizer steps: ``time.perf_counter()`` when the
    #: step began, and the seconds it waited for its batches (what ``colormae plan`` times)
    step_clock: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Hooks:
    """A job's callbacks: ``on_epoch_start(epoch)`` before an epoch's first batch, ``on_step_end(step)``
    after each optimizer step (before it is logged or checkpointed); ``monitor(step, logger)`` on rank 0
    at the start and after each step is logged and saved (it picks its own steps; its time is left out
    of ``img_per_s``); ``logger``: the backends' name (:data:`colormae.train.loggers.LOGGERS`)."""

    on_epoch_start: Callable[[int], None] | None = None
    on_step_end: Callable[[int], None] | None = None
    monitor: Callable[[int, MetricsLogger], None] | None = None
    logger: str = "tensorboard"


@dataclass
class Interval:
    """What the loop sums between two log records (the loss stays on the device: no host sync)."""

    device: torch.device
    loss: torch.Tensor = field(init=False)
    n: int = 0                                      #: micro-batches summed
    extra: dict[str, float] = field(default_factory=dict)  #: the step function's other metrics, summed
    t0: float = field(default_factory=time.perf_counter)
    samples: int = 0                                #: samples seen on this rank

    def __post_init__(self) -> None:
        self.loss = torch.zeros((), device=self.device)

    def add(self, loss: torch.Tensor, extra: dict[str, Any], samples: int) -> None:
        """Add one micro-batch: its detached float ``loss`` (scalar), metrics and sample count."""
        self.loss += loss
        self.n += 1
        self.samples += samples
        for key, value in extra.items():
            self.extra[key] = self.extra.get(key, 0.0) + float(value)


def start_epoch(loader: Iterable, epoch: int, skip_batches: int) -> Any:
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


def batch_len(batch: Any) -> int:
    """Number of samples in a batch: the first dimension of its first tensor."""
    first = batch[0] if isinstance(batch, (list, tuple)) else batch
    if isinstance(first, dict):
        first = next(iter(first.values()))
    return int(first.shape[0]) if isinstance(first, torch.Tensor) else len(first)


class TrainRun:
    """The state of one training run on this rank, and the loop's pieces as methods."""

    def __init__(self, model: nn.Module, loader: Iterable, step_fn: StepFn, optimizer: torch.optim.Optimizer,
                 lr_schedule: Callable[[int], float], settings: LoopSettings, *, device: torch.device,
                 dist: DistInfo, steps_per_epoch: int, total_steps: int, hooks: Hooks,
                 generators: dict[str, torch.Generator], payload: dict[str, Any] | None) -> None:
        self.model, self.loader, self.step_fn, self.optimizer = model, loader, step_fn, optimizer
        self.lr_schedule, self.s, self.hooks = lr_schedule, settings, hooks
        self.device, self.dist = device, dist
        self.generators, self.payload = generators, payload
        self.steps_per_epoch, self.total_steps = steps_per_epoch, total_steps
        self.out_dir = settings.out_dir
        self.scaler = torch.amp.GradScaler("cuda", enabled=settings.amp == "fp16")
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(settings.amp)
        self.step = 0
        self.resume_path: Path | None = None
        self.last_ckpt: Path | None = None  # the last checkpoint this run wrote (rank 0)
        self.last_loss: float | None = None
        self.consistent = True  # False from the optimizer step until the step counter and RNG snapshot follow
        # the recoveries so far (a resumed run keeps their lr factor even with on_diverge=stop)
        self.recovery = Recovery(settings.max_recoveries, settings.recover_lr_factor)
        self.recovering = settings.on_diverge == "recover"
        self.snapshot: Snapshot | None = None  # the last good state, with on_diverge=recover
        self.clock: deque[tuple[float, float]] = deque(maxlen=CLOCK_STEPS)  # (step start, data wait)

    # -- start -------------------------------------------------------------------------------------------
    def restore(self, resume_path: Path | None) -> None:
        """Load model, optimizer, scaler, step and this rank's RNG streams from ``resume_path`` (if any)."""
        self.resume_path = resume_path
        if resume_path is None:
            return
        dist = self.dist
        state = ckpt_io.load_checkpoint(resume_path, map_location="cpu")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        if state.get("recovery"):
            self.recovery.load_state_dict(state["recovery"])
        if state.get("steps_per_epoch", self.steps_per_epoch) != self.steps_per_epoch and dist.is_main:
            warn(f"{resume_path}: saved with {state['steps_per_epoch']} steps per epoch, now "
                 f"{self.steps_per_epoch} (batch size, data or processes changed): the data order "
                 "will not continue exactly")
        saved_total = state.get("total_steps", self.total_steps)
        if saved_total != self.total_steps and dist.is_main:
            warn(f"{resume_path}: saved in a run of {saved_total} steps, now {self.total_steps} "
                 "(max_steps or epochs changed): the lr schedule of the remaining steps changes; the resumed "
                 "run is no longer bit-exact")
        ranks = state.get("rng", {}).get("ranks", [])
        if dist.rank < len(ranks) and len(ranks) == dist.world_size:
            restore_rng(ranks[dist.rank], self.generators)
        elif dist.is_main:
            warn(f"{resume_path}: saved with {len(ranks)} RNG stream(s) for {dist.world_size} "
                 "process(es); continuing with fresh random streams (not bit-exact)")
        del state
        if dist.is_main:
            write(f"resuming from {resume_path} at step {self.step}")

    def prepare(self) -> None:
        """Wrap the model (DDP, compile), open the metrics log and the bar, snapshot the RNG streams."""
        dist = self.dist
        self.model.train()
        self.train_model: nn.Module = self.model
        self.ddp_model = None
        if dist.distributed:
            from torch.nn.parallel import DistributedDataParallel

            self.ddp_model = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
            self.train_model = self.ddp_model
        if self.s.compile:
            self.train_model = torch.compile(self.train_model)  # type: ignore[assignment]
        self.stop_vote = RankVote(dist)  # SIGINT / SIGTERM on any rank stops every rank at the same step
        shield_loader_workers(self.loader)
        config = (self.payload or {}).get("config")
        if self.out_dir is not None and dist.is_main and config is not None:
            from colormae.config import config_yaml

            atomic_write_text(self.out_dir / "config.yaml", config_yaml(config))
        self.open_logger(self.step)
        self.bar = progress_bar(total=self.total_steps, initial=self.step, desc=self.s.desc, unit="step",
                                enabled=self.s.progress and dist.is_main)
        self.good_ckpt: Path | None = self.resume_path  # the last finite checkpoint, known on every rank
        self.saved_step = self.step if self.resume_path is not None else -1
        self.rng_at_step = capture_rng(self.generators)  # RNG at the last step boundary (checkpointed)
        self.nonfinite = NonFiniteTracker(self.device)
        self.interval = Interval(self.device)
        self.current_lr = self.lr_schedule(self.step)
        self.take_snapshot()

    def open_logger(self, start_step: int) -> None:
        """(Re)open the metrics log at ``start_step``: records after it are dropped (a resume, a rollback)."""
        self.logger = MetricsLogger(self.out_dir, enabled=self.dist.is_main, start_step=start_step,
                                    logger=self.hooks.logger, config=(self.payload or {}).get("config"))

    # -- one optimizer step ------------------------------------------------------------------------------
    def train_step(self, batches: Any) -> None:
        """Set the lr, run ``accum_steps`` micro-batches from ``batches`` and take one optimizer step."""
        factor = self.recovery.lr_factor
        base_lr = self.lr_schedule(self.step)
        self.current_lr = base_lr * factor  # x 1.0 is exact: a run that never recovered trains as before
        for group in self.optimizer.param_groups:
            group["lr"] = factor * group_lr(self.lr_schedule, self.step, base_lr, group.get("lr_scale", 1.0))
        accum, started, waited = self.s.accum_steps, time.perf_counter(), 0.0
        if self.step + 1 in self.recovery.skip_steps:
            self.skip_step(batches)
            return
        autocast = self.autocast_dtype is not None and self.step + 1 not in self.recovery.fp32_steps
        for micro in range(accum):
            before = time.perf_counter()
            batch = next(batches)
            waited += time.perf_counter() - before
            final_micro = micro == accum - 1
            ddp = self.ddp_model
            sync = ddp.no_sync() if ddp is not None and not final_micro else nullcontext()
            with sync:
                with torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.bfloat16,
                                    enabled=autocast):
                    loss, extra = self.step_fn(self.train_model, batch, self.step)
                self.scaler.scale(loss / accum).backward()
            detached = loss.detach().float()
            self.nonfinite.record(detached, self.step + 1)
            self.interval.add(detached, extra, batch_len(batch))
        if self.s.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.s.grad_clip)
        # from here to the RNG snapshot the weights and the step counter disagree; signals only set a flag,
        # so nothing but a forced quit can stop the program in between
        self.consistent = False
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        if self.hooks.on_step_end is not None:
            self.hooks.on_step_end(self.step)
        self.rng_at_step = capture_rng(self.generators)
        self.consistent = True
        self.bar.update(1)
        self.clock.append((started, waited))

    def skip_step(self, batches: Any) -> None:
        """A step the ``skip_batch`` remedy skips: drop its micro-batches, count it, change no weight."""
        for _ in range(self.s.accum_steps):
            next(batches)
        self.step += 1
        self.rng_at_step = capture_rng(self.generators)
        self.bar.update(1)

    def watch(self) -> None:
        """Run the job's monitor (rank 0) at this step; its time does not count as training time."""
        if self.hooks.monitor is None or not self.dist.is_main:
            return
        t0 = time.perf_counter()
        self.hooks.monitor(self.step, self.logger)
        self.interval.t0 += time.perf_counter() - t0

    # -- checks, log, save, stop ---------------------------------------------------------------------------
    def diverged(self, what: str, step: int) -> TrainingDiverged:
        """The error of a diverged run at ``step`` (1-based), naming the last good checkpoint."""
        good = self.good_ckpt
        where = f"last good checkpoint {good}" if good is not None else "no checkpoint was saved"
        done = self.recoveries()
        tried = f" after {len(done)} recoveries" if done else ""
        err = TrainingDiverged(f"training diverged{tried}: {what}; {where} (lower the lr, set grad_clip or "
                               "use amp=bf16)")
        err.step, err.what = step, what  # type: ignore[attr-defined]  # for the recovery
        return err

    def check_finite(self, *, weights: bool, collective: bool = True) -> None:
        """Raise :class:`TrainingDiverged` if a loss so far (or, with ``weights``, a weight) is not finite."""
        bad = self.nonfinite.first_bad_step(self.dist if collective else None)
        if bad is not None:
            raise self.diverged(f"the loss is not finite at step {bad}", bad)
        if weights and not weights_finite(self.model):
            raise self.diverged(f"the weights are not finite after step {self.step}", self.step)

    def log(self) -> None:
        """Write the interval's record (loss averaged over ranks: the logging step's host sync)."""
        dist, interval = self.dist, self.interval
        if interval.n == 0:  # only steps the skip_batch remedy skipped: no loss to log
            return
        loss = interval.loss / max(1, interval.n)
        if dist.distributed:
            loss = all_reduce(loss) / dist.world_size
        value = float(loss)  # the host sync of a logging step; the divergence check rides on it
        self.check_finite(weights=False)
        elapsed = time.perf_counter() - interval.t0
        record = {"step": self.step, "epoch": self.step / self.steps_per_epoch, "loss": value,
                  "lr": self.current_lr, "img_per_s": interval.samples * dist.world_size / max(elapsed, 1e-9),
                  "peak_mem_mb": peak_memory_mb(self.device)}
        record.update({k: v / max(1, interval.n) for k, v in interval.extra.items()})
        self.logger.log(record)
        self.bar.set_postfix(loss=f"{value:.4f}", lr=f"{record['lr']:.2e}")
        self.interval = Interval(self.device)
        self.last_loss = value

    def save(self, collective: bool = True) -> None:
        """Checkpoint this step (rank 0 writes); never a non-finite one, never cut short by a signal."""
        self.check_finite(weights=True, collective=collective)
        states = all_gather_object(self.rng_at_step, self.dist) if collective else [self.rng_at_step]
        if self.out_dir is not None:
            step = self.step
            path = self.out_dir / ckpt_io.CKPT_DIR / ckpt_io.checkpoint_name(step)
            if self.dist.is_main:
                recovery = {"recovery": self.recovery.state_dict()} if self.recoveries() else {}
                with self.signals.saving(), self.refused_write():
                    ckpt_io.save_checkpoint(path, {
                        **(self.payload or {}), **recovery, "model": self.model.state_dict(),
                        "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
                        "rng": {"ranks": states}, "step": step, "epoch": step // self.steps_per_epoch,
                        "steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps})
                    ckpt_io.prune_checkpoints(self.out_dir, self.s.keep_last)
                self.last_ckpt = path
            self.good_ckpt = path
        self.saved_step = self.step
        self.take_snapshot()

    @contextmanager
    def refused_write(self) -> Iterator[None]:
        """A checkpoint the disk refused (:class:`~colormae.files.WriteFailed`) names the last good one."""
        try:
            yield
        except WriteFailed as err:
            good = self.good_ckpt
            keep = f"the last good checkpoint is {good} (continue with --resume once fixed)" if good else \
                "no checkpoint was saved yet"
            raise WriteFailed(f"{err}; {keep}", err.path, err.code) from err

    def lost_rank(self, err: BaseException) -> LostRank:
        """The one-line error of a process whose peers died or stopped answering (within the timeout),
        naming the rank that is gone (:meth:`colormae.train.heartbeat.Heartbeat.describe`)."""
        good = f"the last good checkpoint is {self.good_ckpt}" if self.good_ckpt is not None else \
            "no checkpoint was saved yet"
        return LostRank(f"rank {self.dist.rank} of {self.dist.world_size} at step {self.step + 1}: "
                        f"{self.heartbeat.describe()}; the collective failed with: "
                        f"{collective_error_line(err)}; {good}; restart the job with --resume")

    def out_of_memory(self) -> OutOfMemory:
        """The one-line error of a step that ran out of device memory: the peak and what to lower."""
        peak = peak_memory_mb(self.device)
        good = f"; the last good checkpoint is {self.good_ckpt}" if self.good_ckpt is not None else ""
        batch = getattr(self.loader, "batch_size", None)
        now = f"batch_size={batch} per process, " if batch else ""
        return OutOfMemory(
            f"out of {self.device.type} memory in step {self.step + 1} (peak {peak:.0f} MB; {now}"
            f"accum_steps={self.s.accum_steps}): lower batch_size and raise accum_steps by the same factor "
            f"(same effective batch), or set grad_checkpointing=true{good}")

    def save_if_new(self) -> None:
        """Checkpoint this step unless it is already saved."""
        if self.step != self.saved_step:
            self.save()

    def stop_here(self, signum: int) -> None:
        """Stop at this step boundary (every rank together): save with every rank's RNG, then raise."""
        self.save_if_new()
        with self.signals.saving():
            barrier(self.dist)  # nobody exits (and makes torchrun kill the rest) while rank 0 writes
        self.stop_vote.finish()  # every rank voted at this boundary: collect it, leave nothing in flight
        self.bar.close()
        why = signal_name(signum)
        if self.dist.is_main:
            saved = f"saved {self.good_ckpt}" if self.out_dir is not None else "nothing saved (no out_dir)"
            write(f"stopped by {why} at step {self.step}: {saved}; continue with --resume")
        raise TrainingInterrupted(f"stopped by {why} at step {self.step}", signum=signum)

    def quit_by_keyboard(self, err: KeyboardInterrupt) -> None:
        """A ``KeyboardInterrupt`` from the job's own code (or a forced quit): save if the state allows."""
        self.bar.close()
        if isinstance(err, ForcedQuit) or not self.consistent:
            if self.dist.is_main:
                write(f"quit mid-step without saving; the last checkpoint is {self.good_ckpt}")
            return
        if self.step != self.saved_step and self.out_dir is not None:
            with self.signals.saving():
                self.save(collective=False)  # the other ranks cannot be asked
            if self.dist.is_main:
                write(f"interrupted: saved {self.last_ckpt} (step {self.step}); continue with --resume")

    # -- recovery (on_diverge=recover, colormae.train.recover) ---------------------------------------------
    def take_snapshot(self) -> None:
        """Keep this step boundary as the state a divergence rolls back to (only with recovery on)."""
        if self.recovering:
            self.snapshot = Snapshot.take(self.step, self.model, self.optimizer, self.scaler,
                                          self.rng_at_step, self.payload)
            self.snapshot_saved_step = self.saved_step

    def recoveries(self) -> list[dict[str, Any]]:
        """The records of the recoveries so far."""
        return list(self.recovery.records)

    def roll_back(self, err: TrainingDiverged) -> None:
        """Return to the last snapshot (every rank: the divergence check is collective), choose the next
        remedy, and log it: ``metrics.jsonl`` is cut back to the snapshot's step, then gets the record."""
        snap, recovery = self.snapshot, self.recovery
        assert snap is not None
        snap.restore(self.model, self.optimizer, self.scaler, self.payload)
        restore_rng(snap.rng, self.generators)
        self.step, self.saved_step = snap.step, self.snapshot_saved_step
        self.rng_at_step = capture_rng(self.generators)
        self.optimizer.zero_grad(set_to_none=True)
        self.nonfinite, self.interval = NonFiniteTracker(self.device), Interval(self.device)
        record = recovery.plan(err.step, snap.step, err.what)  # type: ignore[attr-defined]
        self.logger.close()
        self.open_logger(snap.step)
        self.logger.log(record)
        self.bar.n = snap.step
        self.bar.refresh()
        if self.dist.is_main:
            warn(describe(record, self.s.max_recoveries))

    def train_to(self, end_step: int) -> None:
        """Train to ``end_step`` and save it; with recovery on, a divergence rolls back (:meth:`roll_back`)
        and training goes on while recoveries are left."""
        while True:
            try:
                self.epochs(end_step)
                self.save_if_new()
                return
            except TrainingDiverged as err:
                if not self.recovering or self.snapshot is None or not self.recovery.can_recover():
                    raise
                self.roll_back(err)

    # -- the loop --------------------------------------------------------------------------------------
    def epochs(self, end_step: int) -> None:
        """Train up to ``end_step``: epochs of steps, each step logged, checkpointed and voted on."""
        s, spe = self.s, self.steps_per_epoch
        while self.step < end_step:
            epoch = self.step // spe
            if self.hooks.on_epoch_start is not None:
                self.hooks.on_epoch_start(epoch)
            batches = start_epoch(self.loader, epoch, (self.step - epoch * spe) * s.accum_steps)
            while self.step < end_step and self.step < (epoch + 1) * spe:
                self.train_step(batches)
                if self.step % s.log_every == 0 or self.step == end_step:
                    self.log()
                if s.ckpt_every > 0 and self.step % s.ckpt_every == 0:
                    self.save()
                self.watch()
                stop_signum = self.stop_vote.submit(self.signals.signum or 0)  # the same answer on every rank
                if stop_signum:
                    self.stop_here(stop_signum)

    def run(self) -> FitResult:
        """Train to the end (or ``stop_at_step``), save the final step and return how it ended."""
        stop_at = self.s.stop_at_step
        end_step = self.total_steps if stop_at is None else min(self.total_steps, stop_at)
        self.signals = StopSignals().install()
        self.heartbeat = Heartbeat.start(self.dist)  # lets a rank whose peer is lost name it
        try:
            self.watch()
            self.train_to(end_step)
            late = self.stop_vote.finish()  # a request in the last step: the run is complete and saved
            if late:
                self.stop_here(late)
        except TrainingInterrupted:
            raise
        except TrainingDiverged:  # raised on every rank at the same collective check: collect the vote
            self.stop_vote.finish()
            raise
        except torch.OutOfMemoryError as err:
            oom = self.out_of_memory()
            self.heartbeat.leave(oom)
            raise oom from err
        except (RuntimeError, OSError) as err:  # a collective whose peer is gone: leave with one line
            if not (self.dist.distributed and is_lost_peer(err)):
                self.heartbeat.leave(err)
                raise
            raise self.lost_rank(err) from err
        except KeyboardInterrupt as err:  # raised by the job's own code (or a forced quit), not by a signal
            self.quit_by_keyboard(err)
            raise
        except Exception as err:  # this rank's own error: the others name it in their lost-rank line
            self.heartbeat.leave(err)
            raise
        finally:
            self.heartbeat.stop()
            self.signals.restore()
            self.bar.close()
            self.logger.close()
        return FitResult(step=self.step, epoch=self.step // self.steps_per_epoch, loss=self.last_loss,
                         checkpoint=self.last_ckpt, model=self.model,
                         recoveries=self.recoveries(), steps_per_epoch=self.steps_per_epoch,
                         step_clock=list(self.clock))


def group_lr(schedule: Callable[[int], float], step: int, lr: float, lr_scale: float) -> float:
    """A parameter group's lr at ``step``: the schedule's own ``group_lr(step, lr_scale)`` when it has one
    (mmengine's per-group rule), else ``lr * lr_scale`` (MAE's)."""
    own = getattr(schedule, "group_lr", None)
    return own(step, lr_scale) if own is not None else lr * lr_scale
