"""The pattern sheet: a few patterns of each bank, masks cut from them, and the banks' spectra.

One figure: a row per bank with ``n_examples`` patterns (the crop each mask came from outlined) and the
``n_examples`` masks ColorMAE's Algorithm 1 cuts from them (:class:`colormae.masking.ColorNoiseMasking`,
independent mode: the largest window values stay visible), then one log-log panel with the radially
averaged power spectrum of every bank (:func:`colormae.noise.radial_power_spectrum`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from colormae.noise import PatternBank, radial_power_spectrum
from colormae.viz.style import CELL_INCHES, DPI, pyplot, save_figure

#: Line colour of each noise colour in the spectrum panel.
LINE_COLORS = {"white": "0.55", "uniform": "black", "red": "tab:red", "blue": "tab:blue",
               "green": "tab:green", "purple": "tab:purple"}
#: At most this many patterns of a bank enter its spectrum estimate (plenty for a smooth curve).
SPECTRUM_PATTERNS = 256


def bank_spectrum(bank: PatternBank,
                  max_patterns: int = SPECTRUM_PATTERNS) -> tuple[torch.Tensor, torch.Tensor]:
    """Radial power spectrum of the first ``max_patterns`` patterns, standardized to mean 0, variance 1.

    Standardizing makes banks of any scale comparable (uniform noise, official files): masks depend only
    on the order of values, so the spectrum's *shape* is what matters. Returns ``(freqs (F,), power (F,))``.
    """
    sample = bank.patterns[:max_patterns].to(torch.float32)
    std = sample.std()
    sample = (sample - sample.mean()) / (std if std > 0 else 1.0)
    return radial_power_spectrum(sample)


def example_masks(bank: PatternBank, n: int, grid: int, ratio: float,
                  seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` masks of ``grid x grid`` patches cut from ``bank`` the way pretraining cuts them.

    Returns:
        ``(masks (n, grid, grid) bool True = masked, pattern indices (n,), crop offsets (n, 2))``.
    """
    from colormae.masking import ColorNoiseMasking

    bank.require_window(grid, grid)
    masking = ColorNoiseMasking(bank, ratio=ratio, mode="independent")
    masks = masking(n, grid, generator=torch.Generator().manual_seed(seed), device="cpu")
    return masks.view(n, grid, grid), masking.last_indices.cpu(), masking.last_offsets.cpu()


def pattern_sheet(banks: Sequence[PatternBank], out_path: str | Path, *, n_examples: int = 4, grid: int = 14,
                  ratio: float = 0.75, seed: int = 0, labels: Sequence[str] | None = None,
                  intended: Sequence[torch.Tensor | None] | None = None) -> Path:
    """Draw the pattern sheet of ``banks`` to ``out_path`` (PNG) and return the path.

    Args:
        banks: one or more banks; each gets a row.
        n_examples: patterns and masks shown per bank.
        grid: side of the patch grid the masks cover (14 for 224 px images, 16 px patches).
        ratio: masking ratio (the paper's 0.75).
        seed: seed of the crops, flips and pattern choices, so a sheet is reproducible.
        labels: row and legend labels (default: each bank's file name or colour).
        intended: per bank, the intended radial power on the spectrum's rings (``(F,)``, as
            :class:`colormae.masking.lab.NoiseReport` gives it) drawn dashed, or None.
    """
    banks = list(banks)
    if not banks:
        raise ValueError("pattern_sheet needs at least one bank")
    labels = list(labels) if labels is not None else [bank.name for bank in banks]
    if len(labels) != len(banks):
        raise ValueError(f"{len(labels)} labels for {len(banks)} banks")
    plt = pyplot()
    from matplotlib.patches import Rectangle

    rows, cols = len(banks), 2 * n_examples
    spectrum_rows = 2
    fig = plt.figure(figsize=(cols * CELL_INCHES, (rows + spectrum_rows) * CELL_INCHES + 0.4), dpi=DPI)
    layout = fig.add_gridspec(rows + spectrum_rows, cols, hspace=0.35, wspace=0.08, left=0.07, right=0.98,
                              top=0.96, bottom=0.08)
    for r, (bank, label) in enumerate(zip(banks, labels, strict=True)):
        masks, indices, offsets = example_masks(bank, n_examples, grid, ratio, seed + r)
        for i in range(n_examples):
            ax = fig.add_subplot(layout[r, i])
            pattern = bank.patterns[int(indices[i])].float().cpu().numpy()
            ax.imshow(pattern, cmap="gray", interpolation="nearest")
            top, left = (int(v) for v in offsets[i])
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), grid, grid, fill=False, edgecolor="yellow", lw=1))
            ax.set_title(f"#{int(indices[i])}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(label, fontsize=8)
            ax = fig.add_subplot(layout[r, n_examples + i])
            ax.imshow((~masks[i]).float().numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"mask {ratio:.0%}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
    ax = fig.add_subplot(layout[rows:, :])
    wanted = list(intended) if intended is not None else [None] * len(banks)
    for k, (bank, label) in enumerate(zip(banks, labels, strict=True)):
        freqs, power = bank_spectrum(bank)
        line = ax.loglog(freqs.numpy(), power.clamp_min(1e-12).numpy(), label=label,
                         color=LINE_COLORS.get(bank.color or "", f"C{k % 10}"))[0]
        if wanted[k] is not None:
            ax.loglog(freqs.numpy(), wanted[k].clamp_min(1e-12).numpy(), linestyle="--", linewidth=1,
                      color=line.get_color())
    ax.set_xlabel("frequency (cycles / pixel)")
    ax.set_ylabel("power (standardized patterns)")
    ax.set_title("radially averaged power spectrum (dashed: intended); masks: white = visible (largest "
                 "values)", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, out_path)
