"""``colormae convert`` from the command line: formats, printed hints, one-line errors."""

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
