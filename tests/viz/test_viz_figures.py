"""The demo's figure set and the ``colormae viz`` commands on a tiny saved checkpoint."""

import dataclasses
import json
from unittest import mock

import numpy as np
import pytest
import torch
from PIL import Image
from timm.data import IMAGENET_DEFAULT_MEAN

from colormae.cli import main
from colormae.models import create_mae
from colormae.train.checkpoint import checkpoint_name, save_checkpoint
from colormae.viz.figures import demo_figures
from colormae.viz.recon import FIG3_MASKINGS
from colormae.viz.style import denormalize, grid_pixels, pyplot


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    mae = create_mae("mae_vit_micro_32px")
    payload = {"kind": "pretrain", "model": mae.state_dict(), "model_config": dataclasses.asdict(mae.config),
               "step": 5, "epoch": 0}
    save_checkpoint(run / "checkpoints" / checkpoint_name(5), payload)
    lines = [json.dumps({"step": i, "epoch": 0, "loss": 1.0 / (i + 1), "lr": 1e-3}) for i in range(5)]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return run


def _kept(draw):
    """Run ``draw()`` keeping the figures it saves open: ``(its result, [figure, ...] in drawing order)``."""
    plt = pyplot()
    before = set(plt.get_fignums())
    with mock.patch.object(plt, "close"):
        result = draw()
    figures = [plt.figure(n) for n in plt.get_fignums() if n not in before]
    return result, figures


def _grid(fig):
    """An ``image_grid`` figure's panels: ``([[panel array, ...] per row], [row label, ...])``."""
    rows: dict[int, list] = {}
    for ax in fig.axes:
        rows.setdefault(ax.get_subplotspec().rowspan.start, []).append(ax)
    ordered = [rows[r] for r in sorted(rows)]
    panels = [[np.asarray(ax.images[0].get_array()) for ax in r] for r in ordered]
    return panels, [r[0].get_ylabel() for r in ordered]


def _masked_fraction(panel):
    """Share of a 'masked' panel's pixels shown as the dataset mean (what a masked patch is drawn as)."""
    return float(np.isclose(panel, np.array(IMAGENET_DEFAULT_MEAN), atol=1e-6).all(axis=-1).mean())


def _not_blank(path):
    """The saved PNG shows something: its pixels vary and take more than 50 colours."""
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(np.int64)
    colours = np.unique((pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2])
    return pixels.std() > 20 and len(colours) > 50


def test_demo_figures_draw_the_run(run_dir, tmp_path, gen):
    images = torch.randn(1, 3, 32, 32, generator=gen)
    paths, figures = _kept(lambda: demo_figures(run_dir, tmp_path / "figs", images=images))
    assert [p.name for p in paths] == ["recon.png", "attention.png", "cam.png", "patterns.png", "masks.png",
                                       "curves.png"]
    assert all(p.parent == tmp_path / "figs" and _not_blank(p) for p in paths)
    sizes = {p.name: Image.open(p).size for p in paths}
    assert sizes["recon.png"] == grid_pixels(5, 4)   # 5 maskings x 1 image, 4 panels
    assert sizes["attention.png"] == sizes["cam.png"] == grid_pixels(2, 1)
    assert sizes["curves.png"] == (600, 400)
    recon, attention, cam, patterns, masks, curves = figures
    rows, labels = _grid(recon)
    assert labels == list(FIG3_MASKINGS) and all(len(r) == 4 for r in rows)
    pics = denormalize(images)[0]
    for row in rows:  # original | masked (75 % of the pixels grey) | reconstruction | pasted
        np.testing.assert_allclose(row[0], pics)
        assert _masked_fraction(row[1]) == 0.75 and _masked_fraction(row[0]) == 0
        assert not np.allclose(row[2], row[0])
    assert len({rows[i][1].tobytes() for i in range(5)}) == 5  # each masking masks other patches
    for fig in (attention, cam):
        rows, _ = _grid(fig)
        np.testing.assert_allclose(rows[0][0], pics)
        assert rows[1][0].std() > 5  # an overlay that varies over the image
    assert len(patterns.axes) == 4 * 2 * 4 + 1 and len(masks.axes) == 5 * 6
    (ax,) = curves.axes
    assert [list(line.get_ydata()) for line in ax.get_lines()][0] == [1.0 / (i + 1) for i in range(5)]
    for fig in figures:
        pyplot().close(fig)


def test_viz_curves_cli(run_dir, tmp_path, capsys):
    out = tmp_path / "c.png"
    argv = ["viz", "curves", str(run_dir), str(run_dir), "--labels", "a,b", "-o", str(out)]
    code, (fig,) = _kept(lambda: main(argv))
    assert code == 0 and Image.open(out).size == (600, 400) and _not_blank(out)
    labelled = [line for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in labelled] == ["a", "b"]
    assert len(labelled[0].get_ydata()) == 5
    pyplot().close(fig)


def test_viz_cli_user_errors(tmp_path, capsys):
    assert main(["viz", "curves", str(tmp_path), "-o", str(tmp_path / "c.png")]) == 2
    assert "metrics" in capsys.readouterr().err
    assert main(["viz", "attention", str(tmp_path / "nope.pt")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_viz_recon_names_its_statistics(run_dir, tmp_path):
    """--stats visible (default) and true give different pictures and say which in the titles."""
    titles, pixels = {}, {}
    for stats in ("visible", "true"):
        out = tmp_path / f"{stats}.png"
        extra = [] if stats == "visible" else ["--stats", "true"]
        args = ["viz", "recon", str(run_dir), "--num-images", "1", "--maskings", "random", "-o", str(out),
                *extra]
        code, (fig,) = _kept(lambda args=args: main(args))
        assert code == 0
        titles[stats] = [ax.get_title() for ax in fig.axes[:4]]
        pixels[stats] = _grid(fig)[0][0][2]
        pyplot().close(fig)
    assert titles["visible"][2] == "reconstruction (visible stats)"
    assert titles["true"][2] == "reconstruction (true stats)"
    assert not np.array_equal(pixels["visible"], pixels["true"])


def test_viz_recon_attention_cam_cli(run_dir, tmp_path, gen):
    img = tmp_path / "img.png"
    Image.fromarray((torch.rand(40, 48, 3, generator=gen) * 255).byte().numpy()).save(img)
    out = tmp_path / "r.png"
    args = ["viz", "recon", str(run_dir), str(img), str(img), "--maskings", "random,green", "-o", str(out)]
    code, (fig,) = _kept(lambda: main(args))
    assert code == 0 and Image.open(out).size == grid_pixels(2 * 2, 4) and _not_blank(out)
    rows, labels = _grid(fig)
    assert labels == ["random", "random", "green", "green"]
    assert all(_masked_fraction(row[1]) == 0.75 for row in rows)
    np.testing.assert_array_equal(rows[0][0], rows[1][0])  # the same picture twice
    out = tmp_path / "a.png"  # built-in photos, and a second checkpoint as an extra row
    code, (fig,) = _kept(lambda: main(["viz", "attention", str(run_dir), "--num-images", "3", "--compare",
                                       str(run_dir), "-o", str(out)]))
    assert code == 0 and Image.open(out).size == grid_pixels(3, 3) and _not_blank(out)
    rows, labels = _grid(fig)
    assert len(labels) == 3 and labels[0] == "image"
    assert len({row.tobytes() for row in rows[0]}) == 3  # three different photos
    np.testing.assert_array_equal(rows[1][0], rows[2][0])  # the same checkpoint twice: the same maps
    out = tmp_path / "c.png"
    code, (fig,) = _kept(lambda: main(["viz", "cam", str(run_dir), str(img), "-o", str(out)]))
    assert code == 0 and Image.open(out).size == grid_pixels(2, 1) and _not_blank(out)
    rows, labels = _grid(fig)
    assert labels == ["image", run_dir.name] and rows[1][0].std() > 5
    for f in pyplot().get_fignums():
        pyplot().close(f)
