"""Recovery from a diverged run (``on_diverge=recover``): roll back, apply the next remedy, go on.

When the loop's divergence check (:mod:`colormae.train.finite`) fires and recovery is on, the run goes
back to its last good state and trains on with one more remedy from a fixed ladder, at most
``max_recoveries`` times; after that it stops with the usual :class:`~colormae.train.finite.TrainingDiverged`.

The last good state is an in-memory :class:`Snapshot` on the host, taken at the start and after every
checkpoint (whose state the divergence check has just passed as finite): model, optimizer, grad scaler,
this rank's random streams and the tensors the job's checkpoint payload holds by reference (an EMA). It is
exact (a clone of what the checkpoint holds, data position included: the step), needs no shared file system
under torchrun (each rank keeps its own), works without an ``out_dir``, and costs one device-to-host copy
per checkpoint and host memory for one copy of model plus optimizer (about 16 bytes per parameter with
AdamW). Nothing is copied when ``on_diverge=stop``.

The ladder (:data:`REMEDIES`), one rung per recovery, the last one repeated:

1. ``skip_batch``: the diverged step is skipped (its micro-batches are read and dropped, the step counter and
   the lr schedule move on, the weights do not change).
2. ``lower_lr``: the lr is multiplied by ``recover_lr_factor`` from the rolled-back step on (for the rest of
   the run; the factors compound and are saved in checkpoints).
3. ``fp32``: the lr is lowered once more and the diverged step runs without autocast (float32).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

#: The remedies of successive recoveries, in order (the last one repeats).
REMEDIES = ("skip_batch", "lower_lr", "fp32")
#: Values of the ``on_diverge`` setting.
ON_DIVERGE = ("stop", "recover")


def host_copy(obj: Any) -> Any:
    """``obj`` with every tensor (in nested dicts, lists and tuples) cloned to the host; other values kept."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: host_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(host_copy(v) for v in obj)
    return obj


def tensors_of(obj: Any) -> list[torch.Tensor]:
    """Every tensor in ``obj`` (nested dicts, lists and tuples), in a fixed order."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in tensors_of(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in tensors_of(v)]
    return []


@dataclass
class Snapshot:
    """A run's state at a step boundary, on the host (see the module docstring)."""

    step: int
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scaler: dict[str, Any]
    rng: dict[str, Any]
    payload: list[torch.Tensor]  #: clones of the payload's tensors, in :func:`tensors_of` order

    @classmethod
    def take(cls, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: Any,
             rng: dict[str, Any], payload: Any) -> Snapshot:
        """Copy the state of ``step`` (``rng``: that boundary's :func:`~colormae.train.rng.capture_rng`)."""
        return cls(step, host_copy(model.state_dict()), host_copy(optimizer.state_dict()),
                   host_copy(scaler.state_dict()), host_copy(rng), host_copy(tensors_of(payload)))

    def restore(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: Any,
                payload: Any) -> None:
        """Put model, optimizer, scaler and the payload's tensors back (the RNG is the caller's: :attr:`rng`).

        The optimizer gets a fresh copy: ``load_state_dict`` keeps tensors already on the right device,
        and the next steps update them in place, which would spoil this snapshot for a second rollback.
        """
        model.load_state_dict(self.model)
        optimizer.load_state_dict(host_copy(self.optimizer))
        if self.scaler:
            scaler.load_state_dict(self.scaler)
        for live, saved in zip(tensors_of(payload), self.payload, strict=True):
            live.copy_(saved)


@dataclass
class Recovery:
    """The recoveries of one run: how many are left, the lr factor and the steps to skip or run in fp32."""

    max_recoveries: int
    lr_factor_step: float                 #: ``recover_lr_factor``: the lr's multiplier per ``lower_lr``
    lr_factor: float = 1.0                #: the product of the lr reductions so far
    records: list[dict[str, Any]] = field(default_factory=list)  #: one per recovery (metrics.jsonl's)
    skip_steps: set[int] = field(default_factory=set)  #: 1-based steps trained as skipped
    fp32_steps: set[int] = field(default_factory=set)  #: 1-based steps run without autocast

    def can_recover(self) -> bool:
        """Whether another recovery is allowed."""
        return len(self.records) < self.max_recoveries

    def plan(self, bad_step: int, rolled_back_to: int, what: str) -> dict[str, Any]:
        """Choose the next remedy for a divergence at ``bad_step`` (1-based), rolled back to step
        ``rolled_back_to``; returns its record (whose ``step`` is the rolled-back one, so a resume from there
        keeps it)."""
        remedy = REMEDIES[min(len(self.records), len(REMEDIES) - 1)]
        if remedy == "skip_batch":
            self.skip_steps.add(bad_step)
        else:
            self.lr_factor *= self.lr_factor_step
        if remedy == "fp32":
            self.fp32_steps.add(bad_step)
        record = {"step": rolled_back_to, "recovery": len(self.records) + 1, "diverged_at": bad_step,
                  "what": what, "remedy": remedy, "lr_factor": self.lr_factor}
        self.records.append(record)
        return record

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of the recoveries (so a resumed run continues with the same lr)."""
        return {"lr_factor": self.lr_factor, "records": list(self.records),
                "skip_steps": sorted(self.skip_steps), "fp32_steps": sorted(self.fp32_steps)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the recoveries a checkpoint recorded."""
        self.lr_factor = float(state.get("lr_factor", 1.0))
        self.records = list(state.get("records", []))
        self.skip_steps = set(state.get("skip_steps", []))
        self.fp32_steps = set(state.get("fp32_steps", []))


def describe(record: dict[str, Any], max_recoveries: int | None = None) -> str:
    """The line a recovery prints (``recovery 1/3: ...`` with ``max_recoveries``)."""
    of = f"/{max_recoveries}" if max_recoveries is not None else ""
    return (f"recovery {record['recovery']}{of}: {record['what']}; rolled back to step "
            f"{record['step']}, remedy {record['remedy']} (lr x {record['lr_factor']:g})")
