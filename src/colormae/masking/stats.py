"""A spatial statistic of masks: how clumped the visible patches are.

Mean number of visible 4-neighbours of a visible patch. Measured at 14 x 14, ratio 0.75 (2048 masks; banks
of 256 patterns of 64 x 64; reference, independent and online modes agree within 0.01): random 0.92,
random with white noise 0.91, white-noise colour masks 0.91, block (BEiT) 2.42, red 2.47, green 1.17,
blue 0.71, purple 0.61. Low-pass noise (red) keeps large visible clumps, band-pass (green) small ones,
high-pass (blue) and band-stop (purple) spread the visible patches apart.
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
