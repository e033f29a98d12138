"""The noise colours and their default σ's (ColorMAE supplement, Sec. 1), without torch: the command line's
``--help`` shows them (:mod:`colormae.commands.patterns`) before anything heavy is imported."""

from __future__ import annotations

#: Noise colours, in the paper's order of baselines first.
COLORS = ("white", "uniform", "red", "blue", "green", "purple")
#: σ range of red / blue noise, drawn per pattern (supplement Sec. 1).
SIGMA_RANGE = (0.5, 2.0)
#: σ1, σ2 of green / purple noise (supplement Sec. 1).
SIGMA1, SIGMA2 = 0.5, 2.0
