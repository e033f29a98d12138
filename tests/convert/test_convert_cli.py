"""``colormae convert`` from the command line: formats, printed hints, one-line errors."""

import pytest
import torch
from safetensors.torch import load_file

from colormae.cli import main
from colormae.convert import export_colormae
from colormae.models import create_mae


def test_convert_cli_round_trip(tmp_path, capsys):
    torch.manual_seed(0)
    model = create_mae("mae_vit_micro_32px")
    export_colormae(model, tmp_path / "ours.pt")
    mae = {k.removeprefix("encoder."): v for k, v in model.state_dict().items()}
    torch.save({"model": mae}, tmp_path / "mae.pth")
    argv = ["convert", str(tmp_path / "mae.pth"), "-o", str(tmp_path / "enc.safetensors"), "--to", "timm",
            "--num-heads", "4", "--decoder-num-heads", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "as mae" in out and "timm.create_model('vit_base_patch16_224'" in out
    enc = load_file(str(tmp_path / "enc.safetensors"))
    assert torch.equal(enc["blocks.1.mlp.fc2.weight"], model.state_dict()["encoder.blocks.1.mlp.fc2.weight"])


def test_convert_cli_unknown_layout(tmp_path, capsys):
    torch.save({"state_dict": {"backbone_x.w": torch.zeros(1)}}, tmp_path / "x.pth")
    assert main(["convert", str(tmp_path / "x.pth"), "-o", str(tmp_path / "y.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "unknown checkpoint layout" in err and "backbone_x.w" in err


def test_convert_cli_not_a_checkpoint(tmp_path, capsys):
    (tmp_path / "notes.pth").write_text("hello, not weights")
    assert main(["convert", str(tmp_path / "notes.pth"), "-o", str(tmp_path / "y.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a PyTorch checkpoint" in err and "notes.pth" in err


def test_convert_output_mistakes_are_one_line(tmp_path, capsys):
    from colormae.cli import main

    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    assert main(["convert", "random:mae_vit_micro_32px", "-o", str(tmp_path / "folder")]) == 2
    assert "an existing folder" in capsys.readouterr().err
    assert main(["convert", "random:mae_vit_micro_32px", "-o", str(tmp_path / "file"), "--to", "hf"]) == 2
    assert "existing file" in capsys.readouterr().err


def test_exports_carry_the_data_statistics(tmp_path):
    """A checkpoint's normalisation travels into timm metadata, HF's preprocessor config and our format."""
    import json

    import torch
    from safetensors import safe_open

    from colormae import load
    from colormae.convert import export_colormae
    from colormae.export import convert
    from colormae.models import create_mae

    torch.manual_seed(0)
    src = export_colormae(create_mae("mae_vit_micro_32px"), tmp_path / "src.pt",
                          data={"mean": [0.1, 0.2, 0.3], "std": [0.4, 0.5, 0.6], "normalize": "dataset",
                                "norm_pix_loss": True})
    convert(src, tmp_path / "enc.safetensors", to="timm")
    with safe_open(str(tmp_path / "enc.safetensors"), "pt") as fh:
        meta = fh.metadata()
    assert json.loads(meta["mean"]) == [0.1, 0.2, 0.3] and json.loads(meta["std"]) == [0.4, 0.5, 0.6]
    assert json.loads(meta["colormae_data"])["normalize"] == "dataset"
    convert(src, tmp_path / "hf", to="hf")
    processor = json.loads((tmp_path / "hf" / "preprocessor_config.json").read_text())
    assert processor["image_mean"] == [0.1, 0.2, 0.3] and processor["image_std"] == [0.4, 0.5, 0.6]
    convert(src, tmp_path / "back.pt")
    assert load(tmp_path / "back.pt").checkpoint["data"]["mean"] == [0.1, 0.2, 0.3]


@pytest.mark.parametrize(("to", "wrapper", "key"), [
    ("mmseg", "state_dict", "backbone.layers.0.ffn.layers.0.0.weight"),
    ("mmdet-vitdet", "state_dict", "backbone.blocks.0.attn.rel_pos_h"),
    ("detectron2-vitdet", "model", "backbone.net.patch_embed.proj.weight"),
])
def test_convert_to_dense_backbones(tmp_path, capsys, to, wrapper, key):
    """`colormae convert --to mmseg|mmdet-vitdet|detectron2-vitdet` writes the file those stacks load and
    prints the config lines that load it."""
    import torch

    from colormae.cli import main
    from colormae.commands.convert import ROUTES

    dst = tmp_path / f"{to}.pth"
    assert main(["convert", "random:mae_vit_micro_32px", "-o", str(dst), "--to", to]) == 0
    ckpt = torch.load(dst, weights_only=True)
    assert key in ckpt[wrapper]
    out = capsys.readouterr().out
    assert all(line.replace("FILE", str(dst)).strip() in out for line in ROUTES[to])
    if to != "detectron2-vitdet":
        assert set(ckpt["meta"]["routes"]) == {"init_cfg", "load_from"}
