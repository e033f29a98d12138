"""The demo's figure set and the ``colormae viz`` commands on a tiny saved checkpoint."""

import dataclasses
import json

import pytest
import torch
from PIL import Image

from colormae.cli import main
from colormae.models import create_mae
from colormae.train.checkpoint import checkpoint_name, save_checkpoint
from colormae.viz.figures import demo_figures
from colormae.viz.style import grid_pixels


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


def test_demo_figures_sizes(run_dir, tmp_path, gen):
    images = torch.randn(1, 3, 32, 32, generator=gen)
    paths = demo_figures(run_dir, tmp_path / "figs", images=images)
    sizes = {p.name: Image.open(p).size for p in paths}
    assert sizes["recon.png"] == grid_pixels(5, 4)   # 5 maskings x 1 image, 4 panels
    assert sizes["attention.png"] == grid_pixels(2, 1)
    assert sizes["cam.png"] == grid_pixels(2, 1)
    assert sizes["curves.png"] == (600, 400)
    assert "patterns.png" in sizes
    assert all(p.parent == tmp_path / "figs" for p in paths)


def test_viz_curves_cli(run_dir, tmp_path, capsys):
    out = tmp_path / "c.png"
    assert main(["viz", "curves", str(run_dir), str(run_dir), "--labels", "a,b", "-o", str(out)]) == 0
    assert Image.open(out).size == (600, 400)


def test_viz_cli_user_errors(tmp_path, capsys):
    assert main(["viz", "curves", str(tmp_path), "-o", str(tmp_path / "c.png")]) == 2
    assert "metrics" in capsys.readouterr().err
    assert main(["viz", "attention", str(tmp_path / "nope.pt")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_viz_recon_attention_cam_cli(run_dir, tmp_path, gen):
    img = tmp_path / "img.png"
    Image.fromarray((torch.rand(40, 48, 3, generator=gen) * 255).byte().numpy()).save(img)
    out = tmp_path / "r.png"
    args = ["viz", "recon", str(run_dir), str(img), str(img), "--maskings", "random,green", "-o", str(out)]
    assert main(args) == 0
    assert Image.open(out).size == grid_pixels(2 * 2, 4)
    out = tmp_path / "a.png"  # built-in photos, and a second checkpoint as an extra row
    assert main(["viz", "attention", str(run_dir), "--num-images", "3", "--compare", str(run_dir),
                 "-o", str(out)]) == 0
    assert Image.open(out).size == grid_pixels(3, 3)
    out = tmp_path / "c.png"
    assert main(["viz", "cam", str(run_dir), str(img), "-o", str(out)]) == 0
    assert Image.open(out).size == grid_pixels(2, 1)
