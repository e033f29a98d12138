"""The pattern sheet figure (colormae.viz.patterns)."""

from unittest import mock

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from colormae.noise import PatternBank
from colormae.viz.patterns import bank_spectrum, example_masks, pattern_sheet
from colormae.viz.style import pyplot


def test_example_masks_keep_exactly_a_quarter():
    bank = PatternBank.generate("green", 8, 32, seed=0)
    masks, indices, offsets = example_masks(bank, 5, 14, 0.75, seed=1)
    assert masks.shape == (5, 14, 14) and masks.dtype == torch.bool
    assert masks.flatten(1).sum(1).tolist() == [196 - int(196 * 0.25)] * 5
    assert indices.shape == (5,) and int(indices.max()) < 8
    assert offsets.shape == (5, 2) and int(offsets.max()) <= 32 - 14
    again = example_masks(bank, 5, 14, 0.75, seed=1)[0]
    assert torch.equal(masks, again)


def test_spectrum_is_of_standardized_patterns():
    uniform = bank_spectrum(PatternBank.generate("uniform", 64, 32, seed=0))[1]
    white = bank_spectrum(PatternBank.generate("white", 64, 32, seed=0))[1]
    assert torch.allclose(uniform, torch.ones_like(uniform), rtol=0.2)  # not 1/12: scale removed
    assert torch.allclose(white, torch.ones_like(white), rtol=0.2)


def test_pattern_sheet_draws_patterns_masks_and_spectra(tmp_path):
    banks = [PatternBank.generate(c, 4, 24, seed=0) for c in ("blue", "purple", "white")]
    plt = pyplot()
    with mock.patch.object(plt, "close"):  # keep the figure open to read what it drew
        out = pattern_sheet(banks, tmp_path / "sub" / "sheet.png", n_examples=3, grid=6,
                            labels=["a", "b", "c"], seed=5)
    fig = plt.gcf()
    assert out == tmp_path / "sub" / "sheet.png"
    image = imread(out)
    assert image.shape[:2] == ((3 + 2) * 160 + 40, 2 * 3 * 160)
    assert image[..., :3].std() > 0.1  # something was drawn
    axes = fig.axes
    assert len(axes) == 3 * 2 * 3 + 1
    for r, (bank, label) in enumerate(zip(banks, "abc", strict=True)):
        masks, indices, offsets = example_masks(bank, 3, 6, 0.75, seed=5 + r)
        row = axes[r * 6:(r + 1) * 6]  # panels are added pattern, mask, pattern, mask, ...
        assert row[0].get_ylabel() == label
        for i in range(3):
            pattern_ax, mask_ax = row[2 * i], row[2 * i + 1]
            drawn = pattern_ax.images[0].get_array()
            np.testing.assert_array_equal(drawn, bank.patterns[int(indices[i])].numpy())
            assert pattern_ax.get_title() == f"#{int(indices[i])}"
            (crop,) = pattern_ax.patches  # the outline of the window the mask was cut from
            top, left = (int(v) for v in offsets[i])
            assert crop.get_xy() == (left - 0.5, top - 0.5) and crop.get_width() == 6
            np.testing.assert_array_equal(mask_ax.images[0].get_array(), (~masks[i]).float().numpy())
    spectrum = axes[-1]
    assert [line.get_label() for line in spectrum.get_lines()] == ["a", "b", "c"]
    for line, bank in zip(spectrum.get_lines(), banks, strict=True):
        freqs, power = bank_spectrum(bank)
        np.testing.assert_allclose(line.get_xdata(), freqs.numpy())
        np.testing.assert_allclose(line.get_ydata(), power.clamp_min(1e-12).numpy())
    plt.close(fig)
    with pytest.raises(ValueError, match="2 labels for 3 banks"):
        pattern_sheet(banks, tmp_path / "x.png", labels=["a", "b"])
