"""The masking protocol and the few helpers every strategy shares.

A strategy is called as ``strategy(batch_size, grid, *, generator=None, device=None)`` and returns a
``torch.bool`` mask ``(B, L)`` with ``L = grid_h * grid_w`` (row-major over the patch grid), True = masked,
with exactly ``L - num_keep(L, ratio)`` masked patches in every row. ``num_keep`` is MAE's
``len_keep = int(L * (1 - ratio))``. Strategies never pick a device or a seed of their own.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from colormae.errors import UserError

Grid = int | tuple[int, int]


@runtime_checkable
class MaskingStrategy(Protocol):
    """Anything that draws ``(B, L)`` boolean masks (True = masked) for a patch grid."""

    ratio: float

    def __call__(self, batch_size: int, grid: Grid, *, generator: torch.Generator | None = None,
                 device: torch.device | str | None = None) -> torch.Tensor:
        """Masks ``(batch_size, grid_h * grid_w)``, dtype bool, on ``device``."""
        ...


def check_ratio(ratio: float) -> float:
    """``ratio`` as a float; :class:`UserError` when it is outside the open interval (0, 1)."""
    try:
        value = float(ratio)
    except (TypeError, ValueError):
        raise UserError(f"masking ratio must be a number in (0, 1), got {ratio!r}") from None
    if not 0.0 < value < 1.0:
        raise UserError(f"masking ratio must be in (0, 1), got {ratio!r}")
    return value


def num_keep(num_patches: int, ratio: float) -> int:
    """Visible patches per row, MAE's ``len_keep = int(L * (1 - ratio))``."""
    return int(num_patches * (1 - ratio))


def num_masked(num_patches: int, ratio: float) -> int:
    """Masked patches per row: ``L - num_keep(L, ratio)``."""
    return num_patches - num_keep(num_patches, ratio)


def parse_grid(grid: Grid) -> tuple[int, int]:
    """``grid`` (an int for a square grid, or ``(H, W)``) as ``(grid_h, grid_w)``; UserError unless > 0."""
    if isinstance(grid, int):
        h = w = grid
    else:
        try:
            h, w = (int(g) for g in grid)
        except (TypeError, ValueError):
            raise UserError(f"patch grid must be an int or (height, width), got {grid!r}") from None
    if h <= 0 or w <= 0:
        raise UserError(f"patch grid must be positive, got {grid!r}")
    return h, w


def check_batch_size(batch_size: int) -> int:
    """``batch_size`` as an int >= 1, or a :class:`UserError`."""
    if int(batch_size) != batch_size or batch_size < 1:
        raise UserError(f"batch size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def resolve_device(device: torch.device | str | None, generator: torch.Generator | None) -> torch.device:
    """The device to draw on: ``device`` (default CPU); ``generator`` must live on the same device type."""
    dev = torch.device("cpu") if device is None else torch.device(device)
    if generator is not None and generator.device.type != dev.type:
        raise UserError(f"the generator lives on {generator.device} but masks were asked for on {dev}; "
                        "pass a generator created on the same device")
    return dev


def mask_from_scores(scores: torch.Tensor, keep: int, *, largest: bool) -> torch.Tensor:
    """Masks keeping, per row, the ``keep`` largest (or smallest) scores visible.

    ``scores: (B, L)`` float; returns bool ``(B, L)``, True = masked, exactly ``L - keep`` True per row
    (ties broken by ``topk``, so the count is exact even when scores repeat).
    ``topk`` + ``scatter`` is the same selection as MAE's ``argsort`` then ``[:, :len_keep]`` but about
    twice as fast on CPU (measured by ``benchmarks/masking.py``), so every strategy shares it.
    """
    b, length = scores.shape
    mask = torch.ones(b, length, dtype=torch.bool, device=scores.device)
    if keep > 0:
        ids = torch.topk(scores, keep, dim=1, largest=largest, sorted=False).indices
        mask.scatter_(1, ids, False)
    return mask
