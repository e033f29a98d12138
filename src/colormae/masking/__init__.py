"""Masks for MAE pretraining: random (MAE), block (BEiT) and colour noise (ColorMAE).

Every strategy is called as ``strategy(batch_size, grid, *, generator=None, device=None)`` and returns a
bool mask ``(B, grid_h * grid_w)``, True = masked, with exactly ``L - int(L * (1 - ratio))`` masked patches
per row. See ``docs/architecture.md``. The names below are imported on first use
(:func:`colormae.lazy.lazy_exports`), so ``colormae.masking.names`` loads without torch.
"""

from typing import TYPE_CHECKING

from colormae.lazy import lazy_exports

if TYPE_CHECKING:
    from colormae.masking.base import MaskingStrategy, Masks, draw_masks, num_keep, num_masked, parse_grid
    from colormae.masking.block import BlockMasking
    from colormae.masking.build import build_masking
    from colormae.masking.color import ColorNoiseMasking
    from colormae.masking.ids import to_hf_noise
    from colormae.masking.names import NAMES
    from colormae.masking.random import RandomMasking
    from colormae.masking.schedule import MaskingSchedule
    from colormae.masking.stats import visible_neighbours

#: Each public name and the module of this package that defines it.
_HOMES = {
    "MaskingStrategy": "base", "Masks": "base", "draw_masks": "base", "num_keep": "base",
    "num_masked": "base", "parse_grid": "base", "BlockMasking": "block", "build_masking": "build",
    "ColorNoiseMasking": "color", "to_hf_noise": "ids", "NAMES": "names", "RandomMasking": "random",
    "MaskingSchedule": "schedule", "visible_neighbours": "stats",
}
_exported, _listed = lazy_exports(__name__, _HOMES, globals())

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
    return _exported(name)


def __dir__() -> list[str]:
    return sorted({*_listed(), "mask_to_ids"})
