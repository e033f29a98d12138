"""The lr schedule of a pretraining config: the one :func:`colormae.pretrain.run.pretrain` trains with, and
its value at every optimizer step without training (:func:`pretrain_lr_schedule`).

``schedule=mae`` (default): MAE's linear warm-up from 0 and half-cosine
(:class:`~colormae.train.schedule.WarmupCosine`), epochs of full batches only. ``schedule=reference``: the
official ColorMAE run's (mmpretrain config ``colormae_vit-base-p16_8xb512-amp-coslr-300e_in1k``): mmengine's
``LinearLR`` from ``1e-4`` of the peak then ``CosineAnnealingLR`` by iteration
(:class:`~colormae.train.schedule.LinearWarmupCosine`), and epochs that keep their last, partial batch
(mmengine's ``DefaultSampler`` without ``drop_last``): 313 steps per epoch for ImageNet-1k's 1,281,167
images at an effective batch of 4096, where ``mae`` takes 312.
"""

from __future__ import annotations

from collections.abc import Callable

from colormae.errors import UserError
from colormae.jobs.pretrain import PretrainConfig
from colormae.train import plan
from colormae.train.schedule import LinearWarmupCosine, WarmupCosine, scaled_lr, warmup_steps

#: Values of the ``schedule`` setting.
SCHEDULES = ("mae", "reference")


def drop_last(cfg: PretrainConfig) -> bool:
    """Whether an epoch drops its last, partial batch (``schedule=mae``) or keeps it (``reference``)."""
    if cfg.schedule not in SCHEDULES:
        raise UserError(f"schedule: {cfg.schedule!r} is not one of {', '.join(SCHEDULES)}")
    return cfg.schedule == "mae"


def peak_lr(cfg: PretrainConfig, effective_batch: int) -> float:
    """``cfg.lr``, else the linear scaling rule ``base_lr x effective_batch / 256``."""
    return cfg.lr if cfg.lr is not None else scaled_lr(cfg.base_lr, effective_batch)


def build_schedule(cfg: PretrainConfig, effective_batch: int, steps_per_epoch: int,
                   total_steps: int) -> tuple[Callable[[int], float], int]:
    """``(lr(step), warm-up steps)`` of ``cfg`` for a run of ``total_steps`` optimizer steps."""
    warmup = warmup_steps(cfg.warmup_steps, cfg.warmup_epochs, steps_per_epoch, total_steps)
    peak = peak_lr(cfg, effective_batch)
    if drop_last(cfg):
        return WarmupCosine(peak, warmup, total_steps, cfg.min_lr), warmup
    return LinearWarmupCosine(peak, warmup, total_steps, cfg.min_lr), warmup


def pretrain_lr_schedule(cfg: PretrainConfig, dataset_size: int, world_size: int = 1) -> list[float]:
    """The lr at every optimizer step (index = step, from 0) of pretraining ``cfg`` on ``dataset_size``
    images with ``world_size`` processes, as :func:`colormae.pretrain.run.pretrain` would set it."""
    effective, per_epoch, total = plan.plan_for_size(cfg, dataset_size, world_size, drop_last=drop_last(cfg))
    schedule, _ = build_schedule(cfg, effective, per_epoch, total)
    return [schedule(step) for step in range(total)]
