"""Segmentation figure: val images with the ground truth and the prediction overlaid, one row each."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from colormae.extras import require
from colormae.viz.display import display_images
from colormae.viz.style import image_grid, save_figure

#: Brightness of the photo under the class colours.
DIM = 0.35


def palette(num_classes: int) -> np.ndarray:
    """``(K, 3)`` floats in [0, 1]: class 0 black-ish, the rest from matplotlib's tab20 / hsv."""
    colormaps = require("matplotlib", extra="viz", feature="segmentation figures").colormaps

    cmap = colormaps["tab20"] if num_classes <= 21 else colormaps["hsv"]
    colours = np.array([cmap(i / max(1, (20 if num_classes <= 21 else num_classes) - 1))[:3]
                        for i in range(num_classes)])
    return colours


def overlay(image: np.ndarray, labels: np.ndarray, colours: np.ndarray,
            ignore_index: int = 255) -> np.ndarray:
    """``image (H, W, 3)`` in [0, 1] dimmed, each pixel of class ``c > 0`` painted ``colours[c]`` (class 0,
    the background of the built-in scenes, and ignored pixels show the dimmed photo)."""
    out = image * DIM
    valid = (labels > 0) & (labels != ignore_index) & (labels < len(colours))
    out[valid] = colours[labels[valid]]
    return out


def segment_figure(samples: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], classes: Sequence[str],
                   out_path: str | Path, *, ignore_index: int = 255, norm=None,
                   bands: tuple[int, ...] | None = None) -> Path:
    """Rows: val images; columns: image, ground truth overlay, prediction overlay.

    ``samples``: ``(normalised image (C, h, w), labels (H, W), prediction (H, W))``; the image is resized
    to the labels' size for display. ``norm``: the images' normalisation (default ImageNet RGB);
    ``bands``: 1-based bands shown as RGB (three) or grey (one), as
    :func:`colormae.viz.display.display_images` (default: RGB, grey, or the first three bands).
    """
    channels = samples[0][0].shape[0] if samples else 3
    if bands is None and channels > 3:
        bands = (1, 2, 3)
    fig, axes = image_grid(len(samples), 3)
    colours = palette(len(classes))
    for row, (image, labels, pred) in enumerate(samples):
        if tuple(image.shape[-2:]) != tuple(labels.shape):
            image = F.interpolate(image[None], size=tuple(labels.shape), mode="bilinear",
                                  align_corners=False)[0]
        rgb = display_images(image[None], norm, bands)[0]
        panels = (rgb, overlay(rgb, labels.numpy(), colours, ignore_index),
                  overlay(rgb, pred.numpy(), colours, ignore_index))
        for col, panel in enumerate(panels):
            axes[row, col].imshow(panel, interpolation="nearest")
    for col, title in enumerate(("image", "ground truth", "prediction")):
        axes[0, col].set_title(title, fontsize=9)
    add_class_legend(fig, classes, colours)
    return save_figure(fig, out_path)


def add_class_legend(fig, classes: Sequence[str], colours: np.ndarray) -> None:
    """A legend below the panels: one colour patch per painted class (class 0, the background, is the
    dimmed photo and is left out)."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=colours[c], edgecolor="none", label=str(name))
               for c, name in enumerate(classes) if c > 0]
    if handles:
        lines = -(-len(handles) // 6)
        fig.subplots_adjust(bottom=min(0.3, (16 * lines + 6) / (fig.get_figheight() * fig.dpi)))  # its room
        fig.legend(handles=handles, loc="lower center", ncol=min(6, len(handles)), fontsize=7, frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
