"""timm exports leave colormae complete: fine-tuned classifiers with their classes, timm's own data config,
file names that say the format, the umask's permissions, and ``colormae.load`` reading them back."""

from __future__ import annotations

import json
import os

import pytest
import timm
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from colormae import load
from colormae.cli import main
from colormae.train.checkpoint import load_checkpoint


def _timm_model(path):
    from colormae.convert import timm_create_kwargs

    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata()
    name, kwargs = timm_create_kwargs(meta)  # what `colormae convert` prints
    model = timm.create_model(name, **kwargs)
    model.load_state_dict(load_file(str(path)))  # strict: every key, head included
    return model.eval(), meta


def test_finetuned_classifier_exports_to_timm_with_its_classes(tmp_path, finetuned, capsys):
    dst = tmp_path / "ft.safetensors"
    assert main(["convert", str(finetuned), "--to", "timm", "-o", str(dst)]) == 0
    printed = capsys.readouterr().out
    model, meta = _timm_model(dst)
    assert model.num_classes == 3 and model.pretrained_cfg["label_names"] == ("blue", "green", "red")
    assert "num_classes=3" in printed and "pretrained_cfg_overlay=" in printed
    ours = load(finetuned).model
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), ours(x), atol=1e-6)
    assert load_checkpoint(finetuned)["classes"] == ["blue", "green", "red"]
    back = load(dst)  # colormae.load reads it too: the encoder, as from any timm ViT
    assert torch.equal(back.model.encoder.state_dict()["blocks.0.attn.qkv.weight"],
                       ours.state_dict()["blocks.0.attn.qkv.weight"])


def test_timm_resolve_data_config_gives_our_preprocessing(tmp_path, finetuned):
    dst = tmp_path / "ft.safetensors"
    assert main(["convert", str(finetuned), "--to", "timm", "-o", str(dst)]) == 0
    model, _ = _timm_model(dst)
    data = load_checkpoint(finetuned)["data"]
    resolved = timm.data.resolve_data_config(model=model)
    assert resolved["mean"] == tuple(data["mean"]) and resolved["std"] == tuple(data["std"])
    assert resolved["input_size"] == (3, 32, 32) and resolved["crop_pct"] == 0.875
    assert resolved["interpolation"] == "bicubic"
    assert data["mean"] != [0.5, 0.5, 0.5]  # timm's own default would have been wrong


def test_pretraining_export_carries_pretrained_cfg(tmp_path):
    dst = tmp_path / "enc.safetensors"
    assert main(["convert", "random:mae_vit_micro_32px", "--to", "timm", "-o", str(dst)]) == 0
    model, meta = _timm_model(dst)
    resolved = timm.data.resolve_data_config(model=model)
    assert resolved["input_size"] == (3, 32, 32) and model.num_classes == 0
    assert resolved["mean"] == tuple(json.loads(meta["mean"]))


@pytest.mark.parametrize("name,to", [("w.pt", "timm"), ("w.safetensors", "colormae"), ("w.pt", "onnx")])
def test_a_file_name_that_says_another_format_is_refused(tmp_path, capsys, name, to):
    assert main(["convert", "random:mae_vit_micro_32px", "--to", to, "-o", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: -o {tmp_path / name}: --to {to} writes a ")
    assert not list(tmp_path.iterdir())


def test_exports_follow_the_umask_and_load_back(tmp_path):
    old = os.umask(0o022)
    try:
        for name, to in (("w.safetensors", "timm"), ("w.pt", "colormae"), ("hf", "hf")):
            assert main(["convert", "random:mae_vit_micro_32px", "--to", to, "-o", str(tmp_path / name)]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "w.safetensors").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "w.pt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "hf" / "model.safetensors").stat().st_mode & 0o777 == 0o644
    ref = load("random:mae_vit_micro_32px").model.encoder.state_dict()
    for name in ("w.safetensors", "w.pt", "hf"):  # colormae.load reads what convert writes
        back = load(tmp_path / name).model.encoder.state_dict()
        assert all(torch.equal(back[k], ref[k]) for k in ref), name
