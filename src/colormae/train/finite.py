"""Divergence guard: a NaN or infinite loss is noticed on every step without a host sync per step.

:class:`NonFiniteTracker` keeps, on the device, the first step whose loss was not finite; recording it is
three tiny kernels and no sync. The engine reads it where it syncs anyway (each logging step) and always
before it writes a checkpoint, so no checkpoint ever holds the weights of a diverged run.
"""

from __future__ import annotations

import torch
from torch import nn

from colormae.errors import UserError
from colormae.ranks import all_reduce
from colormae.train.distributed import DistInfo

_NONE = 2**62  # "no non-finite loss yet": larger than any step


class TrainingDiverged(UserError):
    """The loss or the weights became NaN or infinite; the run stops and names its last good checkpoint."""


class NonFiniteTracker:
    """The first step whose loss was NaN or infinite, held as a 0-d tensor on ``device``."""

    def __init__(self, device: torch.device | str) -> None:
        self._first = torch.full((), _NONE, dtype=torch.long, device=device)

    def record(self, loss: torch.Tensor, step: int) -> None:
        """Note ``loss`` (a detached scalar) of optimizer step ``step`` (1-based); never syncs."""
        self._first = torch.where(torch.isfinite(loss), self._first, self._first.clamp(max=step))

    def first_bad_step(self, dist: DistInfo | None = None) -> int | None:
        """The earliest non-finite step on any rank (one all-reduce when distributed), or ``None``. Syncs."""
        first = self._first.clone()
        if dist is not None and dist.distributed:
            first = all_reduce(first, "min")
        value = int(first)
        return None if value >= _NONE else value


def weights_finite(model: nn.Module) -> bool:
    """Whether every floating-point parameter and buffer of ``model`` is finite (one host sync)."""
    checks = [torch.isfinite(t).all() for t in model.state_dict().values()
              if isinstance(t, torch.Tensor) and t.is_floating_point()]
    return bool(torch.stack(checks).all()) if checks else True
