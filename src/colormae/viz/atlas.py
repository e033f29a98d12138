"""The mask atlas: noise families side by side, one column each.

Per family: two patterns, two masks cut from them (white = visible) and, below, the measured radial power
spectrum against the intended one, with the clumpiness of the masks (mean visible 4-neighbours) in the
column's title (:func:`colormae.masking.lab.analyse`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

#: Inches per atlas column and per image row.
COLUMN_INCHES, ROW_INCHES = 2.0, 2.0


def mask_atlas(entries: Sequence[tuple[str, Any, Any]], out_path: str | Path, *, grid: int = 14,
               ratio: float = 0.75, seed: int = 0) -> Path:
    """Draw the atlas of ``entries``: ``(label, PatternBank, NoiseReport)`` each, to a PNG."""
    from colormae.viz.patterns import example_masks
    from colormae.viz.style import DPI, pyplot, save_figure

    plt = pyplot()
    cols = len(entries)
    fig, axes = plt.subplots(5, cols, figsize=(COLUMN_INCHES * cols, ROW_INCHES * 4 + 2.4), dpi=DPI,
                             squeeze=False, gridspec_kw={"height_ratios": [1, 1, 1, 1, 1.4]})
    for c, (label, bank, report) in enumerate(entries):
        masks, indices, _ = example_masks(bank, 2, grid, ratio, seed + c)
        for i in range(2):
            axes[i][c].imshow(bank.patterns[int(indices[i])].float().cpu().numpy(), cmap="gray",
                              interpolation="nearest")
            axes[2 + i][c].imshow((~masks[i]).float().numpy(), cmap="gray", vmin=0, vmax=1,
                                  interpolation="nearest")
        for ax in (axes[r][c] for r in range(4)):
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0][c].set_title(f"{label}\n{report.neighbours:.2f} visible nbrs", fontsize=8)
        ax = axes[4][c]
        ax.loglog(report.freqs.numpy(), report.power.clamp_min(1e-12).numpy(), color="C0", label="measured")
        if report.intended is not None:
            ax.loglog(report.freqs.numpy(), torch.as_tensor(report.intended).clamp_min(1e-12).numpy(),
                      color="C1", linestyle="--", label="intended")
        from matplotlib.ticker import NullFormatter

        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("cycles / pixel", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_title(f"slope {report.slope:+.2f}", fontsize=7)
    axes[4][0].legend(fontsize=6)
    axes[0][0].set_ylabel("patterns", fontsize=8)
    axes[2][0].set_ylabel(f"masks {ratio:.0%}", fontsize=8)
    fig.suptitle(f"Mask atlas: {grid}x{grid} patch grid, ratio {ratio:.2f}; white = visible", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_path)
