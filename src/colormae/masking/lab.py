"""What a noise family does to masks: its spectrum against the intended one, clumpiness and coverage.

For a bank (generated from a :class:`~colormae.noise.spec.NoiseFilter` or loaded from a file):

- the radially averaged power spectrum of its patterns (standardised to variance 1) against the
  filter's intended power (:meth:`NoiseFilter.intended_power`, scaled the same way), with the log-log
  slope of each and the largest ratio between them over the rings;
- clumpiness: mean visible 4-neighbours of a visible patch (:func:`colormae.masking.visible_neighbours`)
  over ``masks`` masks cut from the bank on a ``grid x grid`` patch grid at ``ratio`` (the README's table;
  random masks give about ``4 (1 - ratio)`` = 1.0 at 75 %);
- coverage: the fraction of patches masked (exact by construction) and how evenly positions are masked:
  the min and max over grid positions of the fraction of masks that mask it (``ratio`` everywhere for an
  unbiased family; a bank whose crops favour corners shows it here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from colormae.masking.color import ColorNoiseMasking
from colormae.masking.stats import visible_neighbours
from colormae.noise.spectrum import radial_average, radial_power_spectrum

#: Masks cut for the clumpiness and coverage figures.
MASKS = 512
#: Patterns entering the spectrum estimate.
SPECTRUM_PATTERNS = 256


@dataclass
class NoiseReport:
    """The numbers :func:`analyse` measures (see the module docstring)."""

    freqs: torch.Tensor
    power: torch.Tensor
    intended: torch.Tensor | None
    slope: float
    intended_slope: float | None
    max_ratio: float | None
    neighbours: float | None
    masked: float | None
    coverage_min: float | None
    coverage_max: float | None

    def lines(self) -> list[str]:
        """The report as text lines."""
        against = "" if self.intended_slope is None else (
            f" (intended {self.intended_slope:+.2f}); measured / intended power within a factor "
            f"{self.max_ratio:.2f} over the rings it passes")
        out = [f"spectrum: log-log slope {self.slope:+.2f}{against}"]
        if self.neighbours is None:
            return [*out, "masks:    none (the patterns are smaller than the patch grid)"]
        out.append(f"masks:    {self.neighbours:.2f} visible 4-neighbours per visible patch (random ~ "
                   f"{4 * (1 - self.masked):.2f}); {100 * self.masked:.1f} % masked; each position masked "
                   f"in {100 * self.coverage_min:.1f}-{100 * self.coverage_max:.1f} % of masks")
        return out


def _slope(freqs: torch.Tensor, power: torch.Tensor) -> float:
    keep = power > 0
    return float(np.polyfit(np.log(freqs[keep].numpy()), np.log(power[keep].numpy()), 1)[0])


def analyse(bank: Any, filt: Any | None = None, *, grid: int = 14, ratio: float = 0.75, masks: int = MASKS,
            seed: int = 0) -> NoiseReport:
    """Measure ``bank`` (a :class:`~colormae.noise.PatternBank`) against ``filt`` (its noise filter, or None
    when unknown) on a ``grid x grid`` patch grid at ``ratio``."""
    sample = bank.patterns[:SPECTRUM_PATTERNS].to(torch.float64)
    scale = float(sample.var()) or 1.0
    freqs, power = radial_power_spectrum((sample - sample.mean()) / scale ** 0.5)
    intended = intended_slope = max_ratio = None
    slope = _slope(freqs, power)
    if filt is not None:
        grid_power = filt.intended_power(bank.size)
        total = float(grid_power.mean() - grid_power[0, 0] / grid_power.numel())  # variance without DC
        intended = radial_average(grid_power / (total or 1.0))[1]
        ok = (intended > 1e-12) & (power > 1e-12)
        ratios = (power[ok] / intended[ok]).log().abs()
        max_ratio = float(ratios.max().exp()) if ok.any() else None
        intended_slope = _slope(freqs[ok], intended[ok]) if int(ok.sum()) >= 2 else None
        slope = _slope(freqs[ok], power[ok]) if int(ok.sum()) >= 2 else slope  # rings the filter passes
    h, w = bank.size
    if h < grid or w < grid:
        return NoiseReport(freqs, power, intended, slope, intended_slope, max_ratio, None, None, None, None)
    drawn = ColorNoiseMasking(bank, ratio=ratio)(masks, grid, generator=torch.Generator().manual_seed(seed))
    position = drawn.float().mean(0)
    return NoiseReport(freqs, power, intended, slope, intended_slope, max_ratio,
                       visible_neighbours(drawn, grid), float(drawn.float().mean()), float(position.min()),
                       float(position.max()))
