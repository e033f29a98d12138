"""The lr schedule of a fine-tuning config: the one :func:`colormae.eval.finetune.finetune` trains with, and
its value at every optimizer step without training (:func:`finetune_lr_schedule`).

``schedule=mae`` (default): MAE's linear warm-up from 0 and half-cosine
(:class:`~colormae.train.schedule.WarmupCosine`), each layer-decay group at ``lr(step) * lr_scale``, epochs of
full batches only. ``schedule=reference``: the official ColorMAE fine-tuning run's (mmpretrain, ViT-B, 8 x 128
images): mmengine's ``LinearLR`` from ``1e-4`` of the peak, then ``CosineAnnealingLR`` to ``eta_min`` for
every group alike, both by iteration (:class:`~colormae.train.schedule.LinearWarmupCosine`), and epochs that
keep their last, partial batch (1,252 steps per epoch on ImageNet-1k at 1024, where ``mae`` takes 1,251).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from colormae.errors import UserError
from colormae.jobs.finetune import FinetuneConfig
from colormae.train import plan
from colormae.train.schedule import LinearWarmupCosine, WarmupCosine, scaled_lr, warmup_steps

#: Values of the ``schedule`` setting.
SCHEDULES = ("mae", "reference")


def drop_last(cfg: FinetuneConfig) -> bool:
    """Whether an epoch drops its last, partial batch (``schedule=mae``) or keeps it (``reference``)."""
    if cfg.schedule not in SCHEDULES:
        raise UserError(f"schedule: {cfg.schedule!r} is not one of {', '.join(SCHEDULES)}")
    return cfg.schedule == "mae"


def warmup(cfg: FinetuneConfig, chosen: dict[str, Any], steps_per_epoch: int, total: int) -> int:
    """Warm-up steps: the config's, else the recipe's (steps or epochs), at most half the run."""
    if "warmup_steps" in chosen and cfg.warmup_steps is None:
        return min(chosen["warmup_steps"], total // 2)
    return warmup_steps(cfg.warmup_steps, float(chosen.get("warmup_epochs", 0)), steps_per_epoch, total // 2)


def build_schedule(cfg: FinetuneConfig, chosen: dict[str, Any], effective_batch: int, steps_per_epoch: int,
                   total: int) -> tuple[Callable[[int], float], float, int]:
    """``(lr(step), peak lr, warm-up steps)`` of ``cfg`` with its ``auto`` settings resolved to ``chosen``
    (:func:`colormae.eval.recipe.resolve_auto`), for a run of ``total`` optimizer steps."""
    peak = chosen["lr"] if chosen["lr"] is not None else scaled_lr(cfg.base_lr, effective_batch)
    steps = warmup(cfg, chosen, steps_per_epoch, total)
    if drop_last(cfg):
        return WarmupCosine(peak, steps, total, cfg.min_lr), peak, steps
    return LinearWarmupCosine(peak, steps, total, cfg.min_lr), peak, steps


def finetune_lr_schedule(cfg: FinetuneConfig, dataset_size: int, world_size: int = 1, *,
                         lr_scale: float = 1.0) -> list[float]:
    """The lr at every optimizer step (index = step, from 0) of a parameter group with layer-decay scale
    ``lr_scale`` when fine-tuning ``cfg`` on ``dataset_size`` images with ``world_size`` processes, as
    :func:`colormae.eval.finetune.finetune` sets it. ``lr`` and ``warmup_epochs`` must be numbers (``auto``
    depends on the data and the encoder)."""
    from colormae.train.loop import group_lr

    if cfg.lr == "auto" or cfg.warmup_epochs == "auto":
        raise UserError("finetune_lr_schedule: set lr (or none) and warmup_epochs; auto depends on the data "
                        "and the encoder")
    effective, per_epoch, total = plan.plan_for_size(cfg, dataset_size, world_size, drop_last=drop_last(cfg))
    chosen = {"lr": cfg.lr, "warmup_epochs": cfg.warmup_epochs}
    schedule, _, _ = build_schedule(cfg, chosen, effective, per_epoch, total)
    return [group_lr(schedule, step, schedule(step), lr_scale) for step in range(total)]
