"""Every job's learning-rate schedule, in one shape: a frozen dataclass called with the optimizer step
(counted from 0) that returns the lr at that step (the engine multiplies it by each group's ``lr_scale``).

* :class:`WarmupCosine` - pretraining and fine-tuning. MAE / ColorMAE recipe (paper Sec. 4, MAE appendix
  A.1): peak lr = base_lr x effective_batch / 256 with base_lr = 1.5e-4, 40 warmup epochs, cosine decay
  to ``min_lr``.
* :class:`LinearWarmupCosine` - the official ColorMAE run's pretraining schedule (mmengine ``LinearLR``
  from ``start_factor`` + ``CosineAnnealingLR`` by iteration; ``schedule=reference`` of ``pretrain``).
* :class:`WarmupMultiStep` - detection (ViTDet / mmdet ``LinearLR`` + ``MultiStepLR``).
* :class:`WarmupPoly` - segmentation (mmseg ``LinearLR`` + ``PolyLR``).

Schedules are per *step* (not per epoch) so a resumed run lands on exactly the same lr. Written here
rather than taken from ``timm.scheduler``: timm's schedulers are stateful objects stepped by epoch or
update whose warm-up starts at ``warmup_lr_init`` and whose cosine spans ``t_initial`` after (not
including) the warm-up, so they do not reproduce these formulas exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Reference batch of the linear scaling rule (Goyal et al.; MAE appendix A.1).
REFERENCE_BATCH = 256


def scaled_lr(base_lr: float, effective_batch: int) -> float:
    """Linear scaling rule: ``base_lr * effective_batch / 256``.

    ``effective_batch`` = batch per device x accumulation steps x world size.
    """
    return base_lr * effective_batch / REFERENCE_BATCH


def warmup_steps(steps: int | None, epochs: float, steps_per_epoch: int, total_steps: int) -> int:
    """Warm-up length in optimizer steps: ``steps`` when given, else ``epochs`` x steps per epoch; at most
    the whole run."""
    n = steps if steps is not None else round(epochs * steps_per_epoch)
    return min(total_steps, n)


@dataclass(frozen=True)
class WarmupCosine:
    """``lr(step)``: 0 at step 0, ``peak_lr`` at ``warmup_steps``, ``min_lr`` at ``total_steps``."""

    peak_lr: float
    warmup_steps: int
    total_steps: int
    min_lr: float = 0.0

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.peak_lr * step / self.warmup_steps
        decay_steps = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / decay_steps)
        return self.min_lr + (self.peak_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class LinearWarmupCosine:
    """``lr(step)`` of mmengine's ``LinearLR(start_factor, begin=0, end=warmup_steps)`` then
    ``CosineAnnealingLR(begin=warmup_steps, T_max=total_steps - warmup_steps, eta_min=min_lr)``.

    mmengine's ``LinearLR`` spans ``end - begin - 1`` steps: ``peak_lr * start_factor`` at step 0,
    ``peak_lr`` at step ``warmup_steps - 1``; the cosine starts from ``peak_lr`` at ``warmup_steps``.
    mmengine applies both as chained per-step factors; this closed form equals them to float rounding.
    """

    peak_lr: float
    warmup_steps: int
    total_steps: int
    min_lr: float = 0.0
    start_factor: float = 1e-4

    def __call__(self, step: int) -> float:
        return self.group_lr(step, 1.0)

    def group_lr(self, step: int, lr_scale: float) -> float:
        """The lr of a parameter group whose initial lr is ``peak_lr * lr_scale`` (layer decay), as mmengine
        schedules each group: the warm-up scales it, and the cosine runs from it down to ``min_lr``, the
        same absolute floor for every group (not ``min_lr * lr_scale``, as ``schedule(step) * lr_scale``
        would give). ``lr_scale=1`` is ``self(step)``."""
        peak = self.peak_lr * lr_scale
        if step < self.warmup_steps:
            span = self.warmup_steps - 1
            return peak * (linear_warmup(step, span, self.start_factor) if span > 0 else 1.0)
        decay_steps = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / decay_steps)
        return self.min_lr + (peak - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def linear_warmup(step: int, warmup_steps: int, start_factor: float) -> float:
    """mmengine's ``LinearLR`` factor: ``start_factor`` at step 0, linearly 1 at ``warmup_steps``."""
    return start_factor + (1 - start_factor) * step / warmup_steps


@dataclass(frozen=True)
class WarmupMultiStep:
    """``lr(step)``: linear warm-up from ``peak_lr * start_factor`` to ``peak_lr`` over ``warmup_steps``, then
    ``peak_lr * gamma ** k`` after the k-th of ``milestones`` (steps). ViTDet / mmdet detection schedule:
    ``LinearLR(start_factor=0.001, end=250)`` + ``MultiStepLR(milestones, gamma=0.1)``."""

    peak_lr: float
    warmup_steps: int
    milestones: tuple[int, ...]
    gamma: float = 0.1
    start_factor: float = 0.001

    def __call__(self, step: int) -> float:
        decayed = self.peak_lr * self.gamma ** sum(step >= m for m in self.milestones)
        if step < self.warmup_steps:
            return decayed * linear_warmup(step, self.warmup_steps, self.start_factor)
        return decayed


@dataclass(frozen=True)
class WarmupPoly:
    """``lr(step)``: linear warm-up from ``peak_lr * start_factor`` over ``warmup_steps``, then polynomial
    decay to ``min_lr`` at ``total_steps``. mmseg's segmentation schedule: ``LinearLR(start_factor=1e-6)``
    + ``PolyLR`` (power 1 in the official configs)."""

    peak_lr: float
    warmup_steps: int
    total_steps: int
    power: float = 1.0
    min_lr: float = 0.0
    start_factor: float = 1e-6

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.peak_lr * linear_warmup(step, self.warmup_steps, self.start_factor)
        span = max(1, self.total_steps - self.warmup_steps)
        frac = min(1.0, (step - self.warmup_steps) / span)
        return (self.peak_lr - self.min_lr) * (1 - frac) ** self.power + self.min_lr
