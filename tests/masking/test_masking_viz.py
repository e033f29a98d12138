"""``colormae viz masks`` and :func:`colormae.viz.masks.mask_figure`."""

import matplotlib.image as mpimg
import pytest

from colormae.cli import main
from colormae.masking import RandomMasking
from colormae.noise import PatternBank
from colormae.viz.masks import mask_figure
from colormae.viz.style import grid_pixels


def test_mask_figure_has_a_row_per_strategy(tmp_path):
    out = mask_figure({"a": RandomMasking(), "b": RandomMasking(0.5), "c": RandomMasking(0.3)},
                      tmp_path / "m.png", grid=(4, 6), n_examples=2)
    height, width = mpimg.imread(out).shape[:2]
    assert (width, height) == grid_pixels(3, 2)


def test_cli_draws_names_and_banks(tmp_path, capsys):
    out = tmp_path / "names.png"
    assert main(["viz", "masks", "--names", "random,block,red", "--grid", "6x5", "--examples", "3",
                 "-o", str(out)]) == 0
    assert mpimg.imread(out).shape[:2][::-1] == grid_pixels(3, 3)
    bank = PatternBank.generate("blue", 4, 16, seed=0).save(tmp_path / "b.npz")
    out = tmp_path / "banks.png"
    assert main(["viz", "masks", "--bank", str(bank), str(bank), "--mode", "reference", "--grid", "8",
                 "--examples", "2", "-o", str(out)]) == 0
    assert mpimg.imread(out).shape[:2][::-1] == grid_pixels(4, 2)  # random, block and two banks
    assert str(out) in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["--names", "random,pink"], "unknown masking"),
    (["--ratio", "1.5"], "ratio"),
    (["--bank", "missing.npz"], "missing.npz"),
])
def test_cli_user_errors_are_one_line(tmp_path, capsys, argv, message):
    assert main(["viz", "masks", *argv, "--grid", "4", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and "Traceback" not in err
