"""A spatial statistic of masks: how clumped the visible patches are.

Mean number of visible 4-neighbours of a visible patch: the number that tells the maskings apart (values
at 14 x 14, ratio 0.75: docs/results.md). Low-pass noise (red) keeps large visible clumps, as block
masking does, band-pass (green) small ones, high-pass (blue) and band-stop (purple) spread the visible
patches apart; random masking lies between green and blue.
"""

from __future__ import annotations

import torch

from colormae.masking.base import Grid, parse_grid


def visible_neighbours(mask: torch.Tensor, grid: Grid) -> float:
    """Mean number of visible 4-neighbours of a visible patch over a batch of masks.

    Args:
        mask: bool ``(B, gh*gw)``, True = masked.
        grid: the patch grid, int or ``(gh, gw)``.
    """
    gh, gw = parse_grid(grid)
    v = (~mask).view(-1, gh, gw).float()
    n = torch.zeros_like(v)
    n[:, 1:] += v[:, :-1]
    n[:, :-1] += v[:, 1:]
    n[:, :, 1:] += v[:, :, :-1]
    n[:, :, :-1] += v[:, :, 1:]
    return float((n * v).sum() / v.sum().clamp(min=1))
