"""The comparison figure of a sweep: every arm's paired difference to the reference arm, with its interval.

One panel per metric; one row per (group, arm); a dot at the mean paired difference, a bar over its 95 %
interval (:mod:`colormae.experiments.compare`), a vertical line at zero. Filled dots: the interval
excludes zero; hollow: it does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Headers of the metrics a panel can show.
METRIC_NAMES = {"lp_top1": "linear probe Top-1", "knn_top1": "k-NN Top-1", "ft_top1": "fine-tune Top-1"}
#: Inches per panel column and per arm row.
PANEL_WIDTH, ROW_HEIGHT = 3.6, 0.32


def comparison_figure(comparisons: Sequence[dict[str, Any]], out_path: str | Path) -> Path:
    """Draw ``comparisons`` (records of :func:`colormae.experiments.compare.compare`) to a PNG."""
    from colormae.viz.style import DPI, pyplot, save_figure

    metrics = list(dict.fromkeys(c["metric"] for c in comparisons))
    arms = list(dict.fromkeys((c["group"], c["setting"]) for c in comparisons))
    plt = pyplot()
    height = 1.2 + ROW_HEIGHT * max(1, len(arms))
    cols = max(1, len(metrics))
    fig, axes = plt.subplots(1, cols, figsize=(PANEL_WIDTH * cols + 1.6, height), dpi=DPI, squeeze=False,
                             sharey=True)
    by_key = {(c["group"], c["setting"], c["metric"]): c for c in comparisons}
    for ax, metric in zip(axes[0], metrics, strict=False):
        for y, (group, setting) in enumerate(arms):
            c = by_key.get((group, setting, metric))
            if c is None:
                continue
            if c["low"] is not None:
                ax.plot([c["low"], c["high"]], [y, y], color="C0", linewidth=2)
            filled = bool(c["excludes_zero"])
            ax.plot([c["diff"]], [y], "o", color="C0", markerfacecolor="C0" if filled else "white")
        ax.axvline(0.0, color="0.4", linewidth=1, linestyle="--")
        ref = next((c["reference"] for c in comparisons if c["metric"] == metric), "reference")
        ax.set_title(METRIC_NAMES.get(metric, metric), fontsize=9)
        ax.set_xlabel(f"difference to {ref} (points)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].set_yticks(range(len(arms)))
    axes[0][0].set_yticklabels([s if g == "grid" else f"{g}: {s}" for g, s in arms], fontsize=7)
    axes[0][0].invert_yaxis()
    method = comparisons[0]["method"] if comparisons else "paired t"
    fig.suptitle(f"Paired-by-seed difference to the reference, 95 % {method} interval (filled: excludes 0)",
                 fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_path)
