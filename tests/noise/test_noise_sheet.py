"""The pattern sheet figure (colormae.viz.patterns)."""

import pytest
import torch
from matplotlib.image import imread

from colormae.noise import PatternBank
from colormae.viz.patterns import bank_spectrum, example_masks, pattern_sheet


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


def test_pattern_sheet_size_and_labels(tmp_path):
    banks = [PatternBank.generate(c, 4, 24, seed=0) for c in ("blue", "purple", "white")]
    out = pattern_sheet(banks, tmp_path / "sub" / "sheet.png", n_examples=3, grid=6, labels=["a", "b", "c"])
    assert out == tmp_path / "sub" / "sheet.png"
    image = imread(out)
    assert image.shape[:2] == ((3 + 2) * 160 + 40, 2 * 3 * 160)
    assert image[..., :3].std() > 0.1  # something was drawn
    with pytest.raises(ValueError, match="2 labels for 3 banks"):
        pattern_sheet(banks, tmp_path / "x.png", labels=["a", "b"])
