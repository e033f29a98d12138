"""The segmentation overlay figure."""

import numpy as np
import torch
from PIL import Image

from colormae.viz.segment import overlay, palette, segment_figure
from colormae.viz.style import grid_pixels


def test_overlay_paints_classes_and_keeps_background_and_ignore():
    image = np.full((2, 3, 3), 0.8)
    labels = np.array([[0, 1, 255], [2, 0, 1]])
    colours = palette(3)
    out = overlay(image, labels, colours)
    assert np.allclose(out[0, 1], colours[1]) and np.allclose(out[1, 0], colours[2])
    assert np.allclose(out[0, 0], 0.8 * 0.35) and np.allclose(out[0, 2], 0.8 * 0.35)


def test_figure_size(tmp_path):
    samples = [(torch.randn(3, 16, 24), torch.randint(0, 4, (32, 48)), torch.randint(0, 4, (32, 48)))
               for _ in range(3)]
    path = segment_figure(samples, ["bg", "a", "b", "c"], tmp_path / "seg.png")
    with Image.open(path) as im:
        assert im.size == grid_pixels(3, 3)
