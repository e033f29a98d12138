"""Masks for MAE pretraining: random (MAE), block (BEiT) and colour noise (ColorMAE).

Every strategy is called as ``strategy(batch_size, grid, *, generator=None, device=None)`` and returns a
bool mask ``(B, grid_h * grid_w)``, True = masked, with exactly ``L - int(L * (1 - ratio))`` masked patches
per row. See ``docs/architecture.md``.
"""

from colormae.masking.base import MaskingStrategy, Masks, draw_masks, num_keep, num_masked, parse_grid
from colormae.masking.block import BlockMasking
from colormae.masking.build import NAMES, build_masking
from colormae.masking.color import ColorNoiseMasking
from colormae.masking.ids import to_hf_noise
from colormae.masking.random import RandomMasking
from colormae.masking.schedule import MaskingSchedule
from colormae.masking.stats import visible_neighbours

__all__ = [
    "NAMES",
    "BlockMasking",
    "ColorNoiseMasking",
    "MaskingSchedule",
    "MaskingStrategy",
    "Masks",
    "RandomMasking",
    "build_masking",
    "draw_masks",
    "mask_to_ids",
    "num_keep",
    "num_masked",
    "parse_grid",
    "to_hf_noise",
    "visible_neighbours",
]


def __getattr__(name: str) -> object:
    """``mask_to_ids`` lives with the model (:mod:`colormae.models.ids`); imported on first use so that
    importing the masks does not import timm."""
    if name == "mask_to_ids":
        from colormae.models.ids import mask_to_ids

        return mask_to_ids
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
