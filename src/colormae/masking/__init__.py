"""Masks for MAE pretraining: random (MAE), block (BEiT) and colour noise (ColorMAE).

Every strategy is called as ``strategy(batch_size, grid, *, generator=None, device=None)`` and returns a
bool mask ``(B, grid_h * grid_w)``, True = masked, with exactly ``L - int(L * (1 - ratio))`` masked patches
per row. See ``docs/architecture.md``.
"""

from colormae.masking.base import MaskingStrategy, num_keep, num_masked, parse_grid
from colormae.masking.block import BlockMasking
from colormae.masking.build import NAMES, build_masking
from colormae.masking.color import ColorNoiseMasking
from colormae.masking.ids import mask_to_ids, to_hf_noise
from colormae.masking.random import RandomMasking
from colormae.masking.schedule import MaskingSchedule
from colormae.masking.stats import visible_neighbours

__all__ = [
    "NAMES",
    "BlockMasking",
    "ColorNoiseMasking",
    "MaskingSchedule",
    "MaskingStrategy",
    "RandomMasking",
    "build_masking",
    "mask_to_ids",
    "num_keep",
    "num_masked",
    "parse_grid",
    "to_hf_noise",
    "visible_neighbours",
]
