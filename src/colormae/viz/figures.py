"""The figure set of a run: one picture per figure of the supplement, drawn from its newest checkpoint.

``demo_figures(run_dir, out_dir)`` writes (each where it applies):

- ``recon.png``      reconstructions under random / blue / green / purple / red masks (Fig. 3);
- ``attention.png``  last-layer [CLS] attention averaged over heads (Fig. 4);
- ``cam.png``        EigenCAM of the encoder (Fig. 5);
- ``patterns.png``   patterns, masks cut from them and the banks' power spectra (main paper Fig. 2/3);
- ``masks.png``      masks of every strategy side by side with their visible-neighbour statistic;
- ``curves.png``     the run's pre-training loss (Fig. 2, right).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from colormae.viz.recon import FIG3_MASKINGS

#: Colours of the pattern sheet.
SHEET_COLORS = ("red", "blue", "green", "purple")


def _pattern_sheet(out: Path, grid: int, ratio: float, seed: int) -> Path:
    """Small banks of every colour drawn by the colleagues' ``colormae.viz.patterns.pattern_sheet``."""
    from colormae.noise import PatternBank
    from colormae.viz.patterns import pattern_sheet

    banks = [PatternBank.generate(c, 16, 64, seed=seed + i) for i, c in enumerate(SHEET_COLORS)]
    return pattern_sheet(banks, out, grid=grid, ratio=ratio, seed=seed, labels=list(SHEET_COLORS))


def demo_figures(run_dir: str | Path, out_dir: str | Path, *, images: torch.Tensor | None = None,
                 image_paths: Sequence[str | Path] = (), num_images: int = 4, ratio: float = 0.75,
                 device: str = "cpu", seed: int = 0) -> list[Path]:
    """Draw the figure set of ``run_dir``'s newest pre-training checkpoint into ``out_dir``.

    ``images`` (N, 3, H, W, normalised) or ``image_paths`` choose the pictures; by default ``num_images``
    built-in photos. Returns the paths written, in the order of the module docstring.
    """
    from colormae.loading import load
    from colormae.viz.attention import attention_figure
    from colormae.viz.cam import cam_figure
    from colormae.viz.curves import plot_loss_curves
    from colormae.viz.inputs import load_images
    from colormae.viz.masks import build_figure_maskings, mask_figure
    from colormae.viz.recon import reconstruction_figure

    run_dir, out = Path(run_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = load(run_dir, map_location=device).mae()
    if images is None:
        images = load_images(image_paths, model.config.img_size, num_builtin=num_images)
    maskings = build_figure_maskings(FIG3_MASKINGS, ratio)
    written = [
        reconstruction_figure(model, images, maskings, out / "recon.png", seed=seed),
        attention_figure(model, images, out / "attention.png"),
        cam_figure(model, images, out / "cam.png"),
        _pattern_sheet(out / "patterns.png", model.grid[0], ratio, seed),
        mask_figure(list(FIG3_MASKINGS), out / "masks.png", grid=model.grid, ratio=ratio, seed=seed),
    ]
    if (run_dir / "metrics.jsonl").is_file():
        written.append(plot_loss_curves([run_dir], out / "curves.png"))
    return written
