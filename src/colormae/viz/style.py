"""Shared figure helpers: a lazily imported Agg pyplot, ImageNet de-normalisation and fixed-size grids.

Figures are drawn at a fixed size (``cell`` inches per panel at :data:`DPI`) and saved without
``bbox_inches="tight"``, so a figure's pixel size is known in advance (``grid_pixels``) and can be tested.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from colormae.extras import require
from colormae.files import atomic_write

#: Dots per inch of every saved figure.
DPI = 100
#: Side of one image panel, in inches (160 px at :data:`DPI`).
CELL_INCHES = 1.6


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the non-interactive Agg backend, imported only when a figure is drawn."""
    matplotlib = require("matplotlib", extra="viz", feature="drawing figures")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def denormalize(images: torch.Tensor, mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD) -> np.ndarray:
    """Undo the ImageNet normalisation for display.

    images: (N, C, H, W) normalised (C = 3, or 1 which is shown as grey) -> (N, H, W, 3) floats in [0, 1].
    """
    images = images.detach().float().cpu()
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    m = torch.tensor(mean, dtype=images.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=images.dtype).view(1, -1, 1, 1)
    return (images * s + m).clamp(0, 1).permute(0, 2, 3, 1).numpy()


def grid_pixels(rows: int, cols: int, cell: float = CELL_INCHES) -> tuple[int, int]:
    """(width, height) in pixels of a :func:`image_grid` figure with ``rows`` x ``cols`` panels."""
    return round(cols * cell * DPI), round(rows * cell * DPI)


def image_grid(rows: int, cols: int, cell: float = CELL_INCHES):
    """A figure of ``rows`` x ``cols`` axes without ticks, sized ``cell`` inches per panel.

    Returns ``(fig, axes)`` with ``axes`` a 2-D numpy array of shape (rows, cols).
    """
    plt = pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(cols * cell, rows * cell), dpi=DPI, squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.01, top=0.97 if rows > 2 else 0.9,
                        wspace=0.04, hspace=0.22)
    return fig, axes


def save_figure(fig, out_path: str | Path) -> Path:
    """Save ``fig`` as ``out_path`` at :data:`DPI` (size unchanged; atomically, the format from the suffix),
    close it, return the path."""
    out = Path(out_path)
    try:
        atomic_write(out, lambda fh: fig.savefig(fh, format=out.suffix[1:] or None, dpi=DPI))
    finally:
        pyplot().close(fig)
    return out


def heat_overlay(image: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """Overlay a heat map on an image with grad-cam's ``show_cam_on_image`` (jet colormap, half-half).

    image: (H, W, 3) floats in [0, 1]; heat: (H, W), min-max rescaled to [0, 1] here -> (H, W, 3) uint8.
    """
    show_cam_on_image = require("pytorch_grad_cam.utils.image", extra="viz",
                                feature="heat-map overlays").show_cam_on_image

    heat = heat.astype(np.float32)
    span = float(heat.max() - heat.min())
    heat = (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)
    return show_cam_on_image(image.astype(np.float32), heat, use_rgb=True)


def overlay_figure(models: Any, images: torch.Tensor, out_path: str | Path,
                   heat_maps: Callable[[Any, torch.Tensor], np.ndarray], default_label: str, *,
                   norm: Any = None, bands: tuple[int, ...] | None = None) -> Path:
    """Images in the first row, then one row of heat maps per model overlaid on them (Figs. 4 and 5).

    ``models`` is one model or ``{row label: model}``; ``heat_maps(model, images)`` gives
    ``(N, H, W)`` maps in [0, 1] at the image size. ``images``: (N, C, H, W) normalised with ``norm``
    (default ImageNet RGB); ``bands`` picks what is shown of other channel counts
    (:func:`colormae.viz.display.display_images`).
    """
    from colormae.viz.display import display_images

    if not isinstance(models, Mapping):
        models = {default_label: models}
    n = images.shape[0]
    pics = display_images(images, norm, bands)
    fig, axes = image_grid(1 + len(models), n)
    for i in range(n):
        axes[0, i].imshow(pics[i], interpolation="nearest")
    axes[0, 0].set_ylabel("image", fontsize=9)
    for r, (name, model) in enumerate(models.items(), start=1):
        maps = heat_maps(model, images)
        for i in range(n):
            axes[r, i].imshow(heat_overlay(pics[i], maps[i]))
        axes[r, 0].set_ylabel(name, fontsize=9)
    return save_figure(fig, out_path)
