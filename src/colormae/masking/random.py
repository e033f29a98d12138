"""MAE's random masking (He et al. 2022) and its white-noise variant (ColorMAE supplement, Table 1c)."""

from __future__ import annotations

import torch

from colormae.errors import UserError
from colormae.masking.base import (
    DrawnMasks,
    Grid,
    Masks,
    check_batch_size,
    check_ratio,
    mask_device,
    mask_from_scores,
    num_keep,
    parse_grid,
)

NOISES = ("uniform", "white")


class RandomMasking(DrawnMasks):
    """Keep the ``len_keep`` patches with the smallest noise value visible (MAE's argsort of noise).

    Args:
        ratio: fraction of patches to mask, in (0, 1); MAE and ColorMAE use 0.75.
        noise: ``"uniform"`` (MAE, ``torch.rand``) or ``"white"`` (Gaussian, ``torch.randn``; supplement
            Table 1c shows both give the same accuracy). Any i.i.d. noise gives a uniformly random subset;
            the two differ only in which random numbers they consume.
    """

    def __init__(self, ratio: float = 0.75, noise: str = "uniform") -> None:
        if noise not in NOISES:
            raise UserError(f"random masking noise must be one of {', '.join(NOISES)}, got {noise!r}")
        self.ratio = check_ratio(ratio)
        self.noise = noise

    def _draw(self, batch_size: int, grid: Grid, generator: torch.Generator | None,
              device: torch.device | str | None, *, with_ids: bool) -> Masks:
        b = check_batch_size(batch_size)
        gh, gw = parse_grid(grid)
        dev = mask_device(device, generator)
        draw = torch.rand if self.noise == "uniform" else torch.randn
        scores = draw(b, gh * gw, generator=generator, device=dev)
        return mask_from_scores(scores, num_keep(gh * gw, self.ratio), largest=False, with_ids=with_ids)

    def __repr__(self) -> str:
        return f"RandomMasking(ratio={self.ratio}, noise={self.noise!r})"
