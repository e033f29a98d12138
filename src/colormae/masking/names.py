"""The masking strategies' names, without torch: the command line's ``--help`` lists them
(:mod:`colormae.commands.viz_masks`) before anything heavy is imported; :func:`colormae.masking.build_masking`
builds them."""

from __future__ import annotations

#: Names :func:`~colormae.masking.build_masking` understands: MAE's random masking (uniform, white noise),
#: BEiT's blocks and the colour-noise masks.
NAMES = ("random", "random-white", "block", "red", "blue", "green", "purple", "white")
COLOR_NAMES = ("red", "blue", "green", "purple", "white")
