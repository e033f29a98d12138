"""``colormae viz masks`` and :func:`colormae.viz.masks.mask_figure`: the drawn panels are the masks."""

from unittest import mock

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

from colormae.cli import main
from colormae.masking import BlockMasking, RandomMasking, visible_neighbours
from colormae.noise import PatternBank
from colormae.viz.masks import MASKED, STAT_MASKS, VISIBLE, mask_figure
from colormae.viz.style import grid_pixels, pyplot


def _drawn_figure(draw):
    """Run ``draw()`` keeping the figure it saves open; returns ``(result, figure)``."""
    plt = pyplot()
    with mock.patch.object(plt, "close"):
        result = draw()
    return result, plt.gcf()


def _panels(fig):
    """The mask drawn in each panel, row by row: ``[(ylabel, (gh, gw) bool True = masked), ...]``."""
    out = []
    for ax in fig.axes:
        shade = np.asarray(ax.images[0].get_array(), dtype=np.float64)
        masked, visible = np.isclose(shade, MASKED, atol=1e-6), np.isclose(shade, VISIBLE, atol=1e-6)
        assert (masked | visible).all()
        out.append((ax.get_ylabel(), masked))
    return out


def test_mask_figure_draws_each_strategys_masks(tmp_path):
    strategies = {"a": RandomMasking(), "b": RandomMasking(0.5), "c": BlockMasking(0.3)}
    out, fig = _drawn_figure(lambda: mask_figure(strategies, tmp_path / "m.png", grid=(4, 6), n_examples=2,
                                                 seed=3))
    pixels = mpimg.imread(out)
    assert pixels.shape[:2][::-1] == grid_pixels(3, 2)
    panels = _panels(fig)
    assert len(panels) == 3 * 2
    for row, (label, strategy) in enumerate(strategies.items()):
        masks = strategy(STAT_MASKS, (4, 6), generator=torch.Generator().manual_seed(3))
        assert panels[2 * row][0] == f"{label}\n{visible_neighbours(masks, (4, 6)):.2f}"
        for col in range(2):
            assert np.array_equal(panels[2 * row + col][1], masks[col].view(4, 6).numpy())
    # the rendered pixel at the centre of each patch of the first panel has its mask's grey level
    ax, height = fig.axes[0], pixels.shape[0]
    for r in range(4):
        for c in range(6):
            x, y = ax.transData.transform((c, r))
            expected = MASKED if panels[0][1][r, c] else VISIBLE
            assert np.allclose(pixels[int(height - y), int(x), :3], expected, atol=0.02), (r, c)
    pyplot().close(fig)


def test_cli_draws_names_and_banks(tmp_path, capsys):
    out = tmp_path / "names.png"
    argv = ["viz", "masks", "--names", "random,block,red", "--grid", "6x5", "--examples", "3", "-o", str(out)]
    code, fig = _drawn_figure(lambda: main(argv))
    assert code == 0 and mpimg.imread(out).shape[:2][::-1] == grid_pixels(3, 3)
    panels = _panels(fig)
    assert [label.split("\n")[0] for label, _ in panels[::3]] == ["random", "block", "red"]
    assert all(m.shape == (6, 5) and int((~m).sum()) == int(30 * 0.25) for _, m in panels)
    assert not np.array_equal(panels[0][1], panels[1][1])  # different draws, different panels
    pyplot().close(fig)
    bank = PatternBank.generate("blue", 4, 16, seed=0).save(tmp_path / "b.npz")
    out = tmp_path / "banks.png"
    argv = ["viz", "masks", "--bank", str(bank), str(bank), "--mode", "reference", "--grid", "8",
            "--examples", "2", "-o", str(out)]
    code, fig = _drawn_figure(lambda: main(argv))
    assert code == 0 and mpimg.imread(out).shape[:2][::-1] == grid_pixels(4, 2)  # random, block, two banks
    panels = _panels(fig)
    assert [label.split("\n")[0] for label, _ in panels[::2]] == ["random", "block", "b.npz (blue)",
                                                                   "b.npz (blue) #2"]
    assert all(int((~m).sum()) == int(64 * 0.25) for _, m in panels)
    assert str(out) in capsys.readouterr().out
    pyplot().close(fig)


@pytest.mark.parametrize("argv,message", [
    (["--names", "random,pink"], "unknown masking"),
    (["--ratio", "1.5"], "ratio"),
    (["--bank", "missing.npz"], "missing.npz"),
])
def test_cli_user_errors_are_one_line(tmp_path, capsys, argv, message):
    assert main(["viz", "masks", *argv, "--grid", "4", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and "Traceback" not in err
