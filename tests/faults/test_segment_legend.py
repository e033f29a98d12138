"""The segmentation figure names its classes: a legend with one patch per painted class."""

from __future__ import annotations

import numpy as np
import torch

from colormae.viz import segment
from colormae.viz.segment import palette, segment_figure


def test_segment_figure_has_a_class_legend(tmp_path, monkeypatch):
    seen = {}
    real = segment.save_figure

    def keep(fig, path):
        seen["labels"] = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
        seen["colours"] = [tuple(np.round(h.get_facecolor()[:3], 4)) for legend in fig.legends
                           for h in legend.legend_handles]
        return real(fig, path)

    monkeypatch.setattr(segment, "save_figure", keep)
    labels = torch.randint(0, 4, (16, 16))
    image = torch.randn(3, 16, 16)
    segment_figure([(image, labels, labels)], ["bg", "cat", "dog", "fox"], tmp_path / "s.png")
    assert seen["labels"] == ["cat", "dog", "fox"]  # the background is the dimmed photo, not a colour
    assert seen["colours"] == [tuple(np.round(c, 4)) for c in palette(4)[1:]]
    assert (tmp_path / "s.png").is_file()
