"""Fig. 1 of the supplement from a sweep's table: linear-probe Top-1 vs masking ratio and vs patterns."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Size of ``fig1.png`` in inches (1000 x 400 px at 100 dpi).
FIG1_INCHES = (10.0, 4.0)


def fig1(rows: Sequence[dict[str, Any]], out_path: str | Path) -> Path:
    """Top-1 vs masking ratio (a) and vs number of patterns (b), one point per arm.

    ``rows``: aggregated arms (``colormae.experiments.sweep.aggregate``) with ``group``, ``setting``,
    ``lp_top1`` (mean over seeds), ``lp_top1_std`` (drawn as an error bar when there are several seeds)
    and ``peak_mem_mb`` (marker area grows with it).
    """
    from colormae.viz.style import DPI, pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=FIG1_INCHES, dpi=DPI)
    mems = [float(r["peak_mem_mb"]) for r in rows if r.get("peak_mem_mb") not in (None, "")]
    mem_lo, span = (min(mems), max(mems) - min(mems)) if mems else (0.0, 0.0)

    def area(r: dict[str, Any]) -> float:  # 60..600 pt^2 from the smallest to the largest memory
        if r.get("peak_mem_mb") in (None, "") or span <= 0:
            return 200.0
        return 60.0 + 540.0 * (float(r["peak_mem_mb"]) - mem_lo) / span

    panels = ((axes[0], "ratio", "masking ratio (%)"), (axes[1], "patterns", "number of patterns"))
    for ax, group, xlabel in panels:
        grow = [r for r in rows if r["group"] == group and r.get("lp_top1") not in (None, "")]
        # the bank sizes are drawn evenly spaced (3072 and 4096 would overlap on a log axis)
        xs = [float(r["setting"]) if group == "ratio" else float(i) for i, r in enumerate(grow)]
        ys = [float(r["lp_top1"]) for r in grow]
        errs = [float(r.get("lp_top1_std") or 0.0) for r in grow]
        ax.plot(xs, ys, color="C2", linewidth=1, zorder=1)
        if any(errs):
            ax.errorbar(xs, ys, yerr=errs, fmt="none", ecolor="k", capsize=3, linewidth=1, zorder=3)
        ax.scatter(xs, ys, s=[area(r) for r in grow], color="C2", alpha=0.6, edgecolor="k", zorder=2)
        for j, (r, x, y) in enumerate(zip(grow, xs, ys, strict=True)):
            if r.get("peak_mem_mb") not in (None, ""):  # alternate above / below so neighbours don't clash
                ax.annotate(f"{float(r['peak_mem_mb']):.0f} MB", (x, y), textcoords="offset points",
                            xytext=(0, 12 if j % 2 == 0 else -18), ha="center", fontsize=7)
        ax.set_xticks(xs, [r["setting"] for r in grow])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("linear-probe Top-1 (%)")
        ax.grid(alpha=0.3)
        ax.margins(x=0.12, y=0.25)
        y_lo, y_hi = ax.get_ylim()
        ax.set_ylim(max(y_lo, -1.0), min(y_hi, 101.0))  # accuracies live in [0, 100]
    axes[0].set_title("(a) masking ratio, ColorMAE-G (marker area ~ memory)", fontsize=9)
    axes[1].set_title("(b) number of green patterns", fontsize=9)
    fig.tight_layout()  # rearranges axes inside the fixed figure size
    return save_figure(fig, out_path)
