"""Example masks of every masking strategy side by side (the main paper's Fig. 1 / 3 style).

One row per strategy, ``n_examples`` masks per row (visible patches light, masked ones dark), each row
labelled with the strategy and its mean number of visible 4-neighbours of a visible patch
(:func:`colormae.masking.visible_neighbours`, over ``STAT_MASKS`` masks): how clumped its visible patches
are (red > block > green > random > blue > purple).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from colormae.masking import build_masking, parse_grid, visible_neighbours
from colormae.masking.base import Grid, MaskingStrategy
from colormae.masking.names import COLOR_NAMES
from colormae.viz.style import image_grid, save_figure

#: Masks drawn for each row's statistic.
STAT_MASKS = 256
#: Colours of visible and masked patches (grey levels).
VISIBLE, MASKED = 0.95, 0.2


def build_figure_maskings(names: Sequence[str], ratio: float) -> dict[str, MaskingStrategy]:
    """``{name: strategy}``; colours use ``mode="online"`` (a figure needs a few masks, not a bank)."""
    return {name: build_masking(name, ratio, mode="online" if name in COLOR_NAMES else "independent")
            for name in names}


def mask_figure(maskings: Sequence[str] | Mapping[str, MaskingStrategy], out_path: str | Path, *,
                grid: Grid = 14, ratio: float = 0.75, seed: int = 0, n_examples: int = 6) -> Path:
    """Draw ``n_examples`` masks of each strategy in a row and save the figure.

    Args:
        maskings: names for :func:`colormae.masking.build_masking` (built with ``ratio``) or
            ``{label: strategy}``.
        out_path: PNG to write.
        grid: patch grid, int or ``(gh, gw)``.
        ratio: masking ratio of strategies built from names.
        seed: seed of the CPU generator every row draws from (one fresh generator per row).
        n_examples: masks per row.

    Returns:
        The path written.
    """
    strategies = (dict(maskings) if isinstance(maskings, Mapping)
                  else build_figure_maskings(list(maskings), ratio))
    gh, gw = parse_grid(grid)
    fig, axes = image_grid(len(strategies), n_examples)
    for row, (label, strategy) in enumerate(strategies.items()):
        gen = torch.Generator().manual_seed(seed)
        masks = strategy(max(STAT_MASKS, n_examples), (gh, gw), generator=gen)  # (B, gh*gw)
        stat = visible_neighbours(masks, (gh, gw))
        for col in range(n_examples):
            shade = torch.where(masks[col], MASKED, VISIBLE).view(gh, gw).numpy()
            axes[row, col].imshow(shade, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[row, 0].set_ylabel(f"{label}\n{stat:.2f}", fontsize=8)
    fig.subplots_adjust(top=1 - 0.3 / fig.get_figheight())  # 0.3 inch above the panels for the title
    fig.suptitle(f"masks at ratio {ratio:g} on a {gh}x{gw} grid (row label: mean visible 4-neighbours)",
                 fontsize=8, y=1 - 0.1 / fig.get_figheight(), va="top")
    return save_figure(fig, out_path)
