"""Colour-noise patterns (ColorMAE supplement, Sec. 1): generation, banks and their ``.npz`` files, spectra.

Red, blue, green and purple noise are periodic Gaussian filterings of white noise (see
:mod:`colormae.noise.filters` for the definitions and the boundary handling); white and uniform noise are
the baselines of MAE's random masking. Any other noise family (power-law, rings, gain tables, callables)
is a :class:`NoiseFilter` named by a spec string (:mod:`colormae.noise.spec`).
"""

from colormae.noise.bank import FORMAT_VERSION, PatternBank, PatternFileError
from colormae.noise.filters import apply_transfer, color_transfer, gaussian_response, gaussian_transfer
from colormae.noise.generate import (
    COLORS,
    SIGMA1,
    SIGMA2,
    SIGMA_RANGE,
    generate_patterns,
    sample_filter,
    sample_patterns,
)
from colormae.noise.spec import NoiseFilter, parse_filter
from colormae.noise.spectrum import radial_power_spectrum

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
