"""Switch masking strategy at given epochs (the official ColorMAE config can go green -> blue -> red ->
purple during pretraining)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from colormae.errors import UserError
from colormae.masking.base import Grid, MaskingStrategy, Masks, draw_masks


class MaskingSchedule:
    """Delegates to the strategy whose start epoch is the latest one not after the current epoch.

    Args:
        stages: ``[(start_epoch, strategy), ...]``; the first must start at epoch 0 and start epochs must
            strictly increase.

    Call :meth:`set_epoch` at the start of every epoch; ``ratio`` is the current stage's ratio.
    """

    def __init__(self, stages: Sequence[tuple[int, MaskingStrategy]]) -> None:
        stages = list(stages)
        if not stages:
            raise UserError("a masking schedule needs at least one (start_epoch, strategy) stage")
        starts = [int(start) for start, _ in stages]
        if starts[0] != 0:
            raise UserError(f"the first masking stage must start at epoch 0, not {starts[0]}")
        if any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
            raise UserError(f"masking stage start epochs must strictly increase, got {starts}")
        self.stages = [(s, strategy) for s, (_, strategy) in zip(starts, stages, strict=True)]
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the stage that covers ``epoch`` from now on."""
        if epoch < 0:
            raise UserError(f"epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    @property
    def current(self) -> MaskingStrategy:
        """The strategy of the current epoch."""
        chosen = self.stages[0][1]
        for start, strategy in self.stages:
            if start <= self.epoch:
                chosen = strategy
        return chosen

    @property
    def ratio(self) -> float:
        """Masking ratio of the current stage."""
        return self.current.ratio

    def __call__(self, batch_size: int, grid: Grid, *, generator: torch.Generator | None = None,
                 device: torch.device | str | None = None) -> torch.Tensor:
        """Masks ``(B, gh*gw)`` bool from the current stage's strategy."""
        return self.current(batch_size, grid, generator=generator, device=device)

    def draw(self, batch_size: int, grid: Grid, *, generator: torch.Generator | None = None,
             device: torch.device | str | None = None) -> Masks:
        """Masks and their ``ids_keep`` from the current stage's strategy."""
        return draw_masks(self.current, batch_size, grid, generator=generator, device=device)

    def __repr__(self) -> str:
        inner = ", ".join(f"({s}, {strategy!r})" for s, strategy in self.stages)
        return f"MaskingSchedule([{inner}])"
