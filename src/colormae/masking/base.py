"""The masking protocol and the few helpers every strategy shares.

A strategy is called as ``strategy(batch_size, grid, *, generator=None, device=None)`` and returns a
``torch.bool`` mask ``(B, L)`` with ``L = grid_h * grid_w`` (row-major over the patch grid), True = masked,
with exactly ``L - num_keep(L, ratio)`` masked patches in every row. ``num_keep`` is MAE's
``len_keep = int(L * (1 - ratio))``. Strategies never pick a device or a seed of their own.

The built-in strategies also have ``draw(...)`` (same arguments) returning :class:`Masks`: the mask and the
visible patch indices ``ids_keep (B, K)`` they already computed, so that the model needs no host-device
sync to find ``K`` (``model(images, mask, ids_keep)``). :func:`draw_masks` gives the same for any strategy.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Protocol, runtime_checkable

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


class Masks(NamedTuple):
    """A batch of masks with its visible patch indices.

    Attributes:
        mask: bool ``(B, L)``, True = masked.
        ids_keep: int64 ``(B, K)``, the visible patches of each row in ascending order
            (:func:`colormae.models.ids.mask_to_ids` of ``mask``, computed without a host-device sync);
            always set by ``draw`` (None only inside a plain strategy call, which returns the mask alone).
    """

    mask: torch.Tensor
    ids_keep: torch.Tensor | None


class DrawnMasks:
    """Base of the built-in strategies: ``__call__`` gives the mask, ``draw`` the mask and its ids, both from
    the subclass's ``_draw(batch_size, grid, generator, device, *, with_ids) -> Masks`` (the same random
    draws either way; a plain call skips sorting the ids)."""

    def __call__(self, batch_size: int, grid: Grid, *, generator: torch.Generator | None = None,
                 device: torch.device | str | None = None) -> torch.Tensor:
        """Masks ``(B, gh*gw)`` bool, True = masked."""
        return self._draw(batch_size, grid, generator, device, with_ids=False).mask

    def draw(self, batch_size: int, grid: Grid, *, generator: torch.Generator | None = None,
             device: torch.device | str | None = None) -> Masks:
        """Masks ``(B, gh*gw)`` and their ``ids_keep (B, K)`` (the same masks as a call)."""
        return self._draw(batch_size, grid, generator, device, with_ids=True)

    def _draw(self, batch_size: int, grid: Grid, generator: torch.Generator | None,
              device: torch.device | str | None, *, with_ids: bool) -> Masks:
        raise NotImplementedError


def draw_masks(strategy: MaskingStrategy, batch_size: int, grid: Grid, *,
               generator: torch.Generator | None = None, device: torch.device | str | None = None) -> Masks:
    """``strategy.draw(...)`` when the strategy has it, else its mask with ``ids_keep`` found from the
    static count ``num_keep(L, strategy.ratio)`` (no host-device sync either way)."""
    draw = getattr(strategy, "draw", None)
    if draw is not None:
        return draw(batch_size, grid, generator=generator, device=device)
    mask = strategy(batch_size, grid, generator=generator, device=device)
    return Masks(mask, visible_ids(mask, num_keep(mask.shape[1], strategy.ratio)))


def visible_ids(mask: torch.Tensor, keep: int) -> torch.Tensor:
    """``ids_keep (B, keep)``: the visible patches of ``mask (B, L)`` in ascending order, ``keep`` given
    (a stable sort puts the False entries first, each group in patch order)."""
    return torch.argsort(mask.to(torch.uint8), dim=1, stable=True)[:, :keep]


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
    """Visible patches per row, MAE's ``len_keep = int(L * (1 - ratio))``; :class:`UserError` naming the
    largest valid ratio (:func:`max_ratio`) when not one patch would stay visible."""
    keep = int(num_patches * (1 - ratio))
    if keep < 1 and num_patches > 0:
        raise UserError(f"mask_ratio={ratio:g} leaves no visible patch of the {num_patches}-patch grid: "
                        f"use at most mask_ratio={max_ratio(num_patches):g}")
    return keep


def max_ratio(num_patches: int) -> float:
    """The largest ratio (4 decimals) that keeps at least one of ``num_patches`` patches visible."""
    ratio = math.floor((1 - 1 / num_patches) * 1e4) / 1e4
    while ratio > 0 and int(num_patches * (1 - ratio)) < 1:  # float rounding of the product
        ratio = round(ratio - 1e-4, 4)
    return ratio


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


def mask_device(device: torch.device | str | None, generator: torch.Generator | None) -> torch.device:
    """The device to draw on: ``device`` (default CPU); ``generator`` must live on the same device type."""
    dev = torch.device("cpu") if device is None else torch.device(device)
    if generator is not None and generator.device.type != dev.type:
        raise UserError(f"the generator lives on {generator.device} but masks were asked for on {dev}; "
                        "pass a generator created on the same device")
    return dev


def mask_from_scores(scores: torch.Tensor, keep: int, *, largest: bool, with_ids: bool = True) -> Masks:
    """Masks keeping, per row, the ``keep`` largest (or smallest) scores visible.

    ``scores: (B, L)`` float; returns the bool mask ``(B, L)``, True = masked, exactly ``L - keep`` True per
    row (ties broken by ``topk``, so the count is exact even when scores repeat), and its ``ids_keep``
    (None unless ``with_ids``: sorting them makes a plain mask call slower on the CPU).
    ``topk`` + ``scatter`` is the same selection as MAE's ``argsort`` then ``[:, :len_keep]`` but faster on
    CPU (``benchmarks/masking.py``), so every strategy shares it.
    """
    ids = torch.topk(scores, keep, dim=1, largest=largest, sorted=False).indices
    return masks_from_ids(ids, scores.shape[1], with_ids=with_ids)


def masks_from_ids(ids: torch.Tensor, length: int, *, with_ids: bool = True) -> Masks:
    """:class:`Masks` of rows whose visible patches are ``ids (B, K)`` (any order, no repeats);
    ``ids_keep`` sorted ascending, or None unless ``with_ids``."""
    mask = torch.ones(ids.shape[0], length, dtype=torch.bool, device=ids.device).scatter_(1, ids, False)
    return Masks(mask, ids.sort(dim=1).values if with_ids else None)
