"""How many optimizer steps a loader gives: per epoch, and in all for a run's settings."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from colormae.errors import UserError


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


def plan_steps(loader: Iterable, *, epochs: int | None, accum_steps: int = 1, max_steps: int | None = None,
               too_small: str | None = None) -> tuple[int, int]:
    """``(steps_per_epoch, total_steps)`` that :func:`~colormae.train.engine.fit` will run for these settings.

    Jobs call it to size their lr schedule; ``too_small`` replaces the default message of the
    :class:`UserError` raised when the data set cannot fill one optimizer step per epoch.
    """
    return run_length(_batches_per_epoch(loader) // accum_steps, epochs=epochs, max_steps=max_steps,
                      too_small=too_small)


def effective_batch(cfg: Any, world_size: int) -> int:
    """Images per optimizer step over all ranks: batch per device x accumulation steps x world size."""
    return cfg.batch_size * cfg.accum_steps * world_size


def plan_for_size(cfg: Any, dataset_size: int, world_size: int = 1, *, drop_last: bool = True
                  ) -> tuple[int, int, int]:
    """``(effective_batch, steps_per_epoch, total_steps)`` of a training config (its ``batch_size``,
    ``accum_steps``, ``epochs``, ``max_steps``) on ``dataset_size`` samples and ``world_size`` processes: what
    :func:`plan_steps` gives for the loader :func:`steps_per_epoch` describes, without building it."""
    effective = effective_batch(cfg, world_size)
    per_epoch = steps_per_epoch(dataset_size, batch_size=cfg.batch_size, world_size=world_size,
                                accum_steps=cfg.accum_steps, drop_last=drop_last)
    too_small = f"{dataset_size} images are too few for an effective batch of {effective}"
    per_epoch, total = run_length(per_epoch, epochs=cfg.epochs, max_steps=cfg.max_steps, too_small=too_small)
    return effective, per_epoch, total


def run_length(per_epoch: int, *, epochs: int | None, max_steps: int | None,
               too_small: str | None = None) -> tuple[int, int]:
    """``(per_epoch, total_steps)``: ``epochs`` epochs of ``per_epoch`` steps, cut at ``max_steps``; one-line
    errors for an epoch of no step and for a run given no length."""
    if per_epoch < 1:
        raise UserError(too_small or "the dataset is too small for one optimizer step per epoch: it needs at "
                        "least batch_size x accum_steps x world_size samples")
    if epochs is None:  # the run's length is given in steps alone
        if max_steps is None:
            raise UserError("give the run's length: epochs or max_steps")
        return per_epoch, max_steps
    total_steps = epochs * per_epoch
    return per_epoch, total_steps if max_steps is None else min(total_steps, max_steps)


def steps_per_epoch(dataset_size: int, *, batch_size: int, world_size: int = 1, accum_steps: int = 1,
                    drop_last: bool = True) -> int:
    """Optimizer steps per epoch of :func:`colormae.train.loader.build_train_loader` over ``dataset_size``
    samples, without building it: torch's ``DistributedSampler`` (``drop_last``: cut to a multiple of the
    world size, else padded up to one) and a ``DataLoader`` that keeps (or drops) the last partial batch."""
    if drop_last and dataset_size % world_size:
        per_rank = math.ceil((dataset_size - world_size) / world_size)
    else:
        per_rank = math.ceil(dataset_size / world_size)
    batches = per_rank // batch_size if drop_last else math.ceil(per_rank / batch_size)
    return batches // accum_steps
