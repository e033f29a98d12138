"""Colour-noise patterns (ColorMAE supplement, Sec. 1): generation, banks and their ``.npz`` files, spectra.

Red, blue, green and purple noise are periodic Gaussian filterings of white noise (see
:mod:`colormae.noise.filters` for the definitions and the boundary handling); white and uniform noise are
the baselines of MAE's random masking. Any other noise family (power-law, rings, gain tables, callables)
is a :class:`NoiseFilter` named by a spec string (:mod:`colormae.noise.spec`).

The names below are imported on first use (PEP 562), so ``colormae.noise.colors`` (the colours and their
σ's, which ``colormae --help`` shows) loads without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from colormae.lazy import lazy_exports

if TYPE_CHECKING:
    from colormae.noise.bank import FORMAT_VERSION, PatternBank, PatternFileError
    from colormae.noise.colors import COLORS, SIGMA1, SIGMA2, SIGMA_RANGE
    from colormae.noise.filters import apply_transfer, color_transfer, gaussian_response, gaussian_transfer
    from colormae.noise.generate import generate_patterns, sample_filter, sample_patterns
    from colormae.noise.spec import NoiseFilter, parse_filter
    from colormae.noise.spectrum import radial_power_spectrum

#: Each public name and the module of this package that defines it.
_HOMES = {
    "COLORS": "colors", "SIGMA1": "colors", "SIGMA2": "colors", "SIGMA_RANGE": "colors",
    "FORMAT_VERSION": "bank", "PatternBank": "bank", "PatternFileError": "bank",
    "apply_transfer": "filters", "color_transfer": "filters", "gaussian_response": "filters",
    "gaussian_transfer": "filters",
    "generate_patterns": "generate", "sample_filter": "generate", "sample_patterns": "generate",
    "NoiseFilter": "spec", "parse_filter": "spec",
    "radial_power_spectrum": "spectrum",
}

__all__ = [
    "COLORS",
    "FORMAT_VERSION",
    "NoiseFilter",
    "SIGMA1",
    "SIGMA2",
    "SIGMA_RANGE",
    "PatternBank",
    "PatternFileError",
    "apply_transfer",
    "color_transfer",
    "gaussian_response",
    "gaussian_transfer",
    "generate_patterns",
    "parse_filter",
    "radial_power_spectrum",
    "sample_filter",
    "sample_patterns",
]


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())
