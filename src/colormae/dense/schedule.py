"""mmseg's segmentation lr schedule: linear warm-up (from 1e-6 of the peak) then polynomial decay to
``min_lr`` at the last step (``LinearLR`` + ``PolyLR``, power 1 in the official configs), per step."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class WarmupPoly:
    """``lr(step)`` for the shared engine; ``step`` counts optimizer steps from 0."""

    peak: float
    warmup: int
    total: int
    power: float = 1.0
    min_lr: float = 0.0
    start_factor: float = 1e-6

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return self.peak * (self.start_factor + (1 - self.start_factor) * step / self.warmup)
        span = max(1, self.total - self.warmup)
        frac = min(1.0, (step - self.warmup) / span)
        return (self.peak - self.min_lr) * (1 - frac) ** self.power + self.min_lr
