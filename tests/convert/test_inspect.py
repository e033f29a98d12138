"""``colormae inspect``: parts, shapes, norm-pix flag, normalisation, step and settings as the file records
them; warnings for a missing decoder, a key prefix and a norm-pix target; published releases named."""

from __future__ import annotations

import hashlib
import json
import re
from argparse import Namespace
from collections import OrderedDict

import pytest
import torch

from colormae.cli import main
from colormae.convert import releases
from colormae.convert.api import export_hf, export_timm
from colormae.convert.inspect import NO_DECODER, NORM_PIX, inspect_checkpoint
from colormae.convert.layouts import MAE, MMPRETRAIN, TIMM
from colormae.models import create_mae
from colormae.train.checkpoint import load_checkpoint


def _json(capsys, *argv) -> dict:
    assert main(["inspect", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_mae("mae_vit_micro_32px").eval()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A real (2-step) pretraining run with settings that differ from the defaults."""
    out = tmp_path_factory.mktemp("inspect_run") / "run"
    assert main(["pretrain", "--out", str(out), "--no-progress", "model=mae_vit_micro_32px", "data=mnist5k",
                 "num_workers=0", "bank_size=16", "pattern_size=16", "batch_size=8", "epochs=1",
                 "warmup_epochs=0", "lr=1e-3", "max_steps=2", "normalize=none", "norm_pix_loss=false"]) == 0
    return out


def test_our_checkpoint_gives_what_training_recorded(capsys, run_dir):
    info = _json(capsys, run_dir)
    recorded = load_checkpoint(run_dir)
    data, cfg = recorded["data"], recorded["model_config"]
    assert info["layout"] == "colormae" and info["kind"] == "pretrain"
    assert info["parts"] == {"encoder": True, "decoder": True, "head": False, "optimizer": True}
    assert info["shapes"]["img_size"] == cfg["img_size"]
    assert info["shapes"]["in_chans"] == cfg["in_chans"] == 3
    assert info["norm_pix_loss"] is False is data["norm_pix_loss"]
    norm = info["normalization"]
    assert norm["mean"] == data["mean"] == [0.0, 0.0, 0.0] and norm["std"] == data["std"] == [1.0] * 3
    assert norm["normalize"] == "none" and norm["img_size"] == data["img_size"]
    assert info["step"] == recorded["step"] == 2 and info["settings"]["normalize"] == "none"
    assert info["init"] == "-"
    assert info["sha256"] == hashlib.sha256(open(info["file"], "rb").read()).hexdigest()
    assert not any(NO_DECODER in w or NORM_PIX in w for w in info["warnings"])
    assert main(["inspect", str(run_dir)]) == 0
    text = capsys.readouterr().out
    assert "parts: encoder yes, decoder yes, head no, optimizer yes" in text and "init: -" in text


def test_init_record_is_shown(tmp_path, capsys, run_dir):
    ckpt = load_checkpoint(run_dir)
    ckpt["init"] = {"from": "mae_pretrain_vit_base_full.pth", "loaded": ["encoder", "decoder"]}
    torch.save(ckpt, tmp_path / "warm.pt")
    assert _json(capsys, tmp_path / "warm.pt")["init"] == ckpt["init"]


@pytest.mark.parametrize("form", ["timm export", "mae encoder-only .pth"])
def test_encoder_only_files_say_the_decoder_is_missing(tmp_path, capsys, model, form):
    if form == "timm export":
        path = export_timm(model, tmp_path / "enc.safetensors")
    else:  # what facebookresearch/mae publishes as mae_pretrain_vit_*.pth: {"model": encoder in timm names}
        enc = {k: v for k, v in model.state_dict().items() if k.startswith("encoder.")}
        path = tmp_path / "mae_pretrain.pth"
        torch.save({"model": TIMM.from_ours(enc)}, path)
    info = _json(capsys, path)
    assert info["parts"]["decoder"] is False and info["parts"]["encoder"] is True
    assert NO_DECODER in info["warnings"]
    assert info["shapes"]["embed_dim"] == 64 and "decoder_embed_dim" not in info["shapes"]


def test_mae_full_checkpoint_norm_pix_args_and_epoch(tmp_path, capsys, model):
    path = tmp_path / "mae_full.pth"
    torch.save({"model": MAE.from_ours(model.state_dict()), "epoch": 799, "optimizer": {"state": {}},
                "args": Namespace(model="mae_vit_micro_32px", norm_pix_loss=True, blr=1.5e-4)}, path)
    info = _json(capsys, path)
    assert info["layout"] == "mae" and info["parts"]["decoder"] and info["parts"]["optimizer"]
    assert info["norm_pix_loss"] is True and NORM_PIX in info["warnings"]
    assert info["epoch"] == 799 and info["settings"]["blr"] == 1.5e-4
    assert info["shapes"]["decoder_num_heads"] == model.config.decoder_num_heads


def test_mmpretrain_layout_reads_its_config_text(tmp_path, capsys, model):
    # the layout of the official run's config dump (ColorMAE logs/pretrain/300e/colormae-green-config_300e.py)
    cfg = ("auto_scale_lr = dict(base_batch_size=4096)\ndata_preprocessor = dict(\n    mean=[\n"
           "        123.675,\n        116.28,\n        103.53,\n    ],\n    std=[\n        58.395,\n"
           "        57.12,\n"
           "        57.375,\n    ],\n    to_rgb=True)\nmodel = dict(\n    head=dict(\n        loss=dict("
           "criterion='L2', type='PixelReconstructionLoss'),\n        norm_pix=True,\n        patch_size=4,\n"
           "        type='MAEPretrainHead'),\n    neck=dict(\n        decoder_depth=1,\n"
           "        decoder_embed_dim=32,\n        decoder_num_heads=2,\n"
           "        type='MAEPretrainDecoder'))\n")
    path = tmp_path / "official.pth"
    torch.save({"meta": {"epoch": 300, "iter": 93900, "cfg": cfg},
                "state_dict": OrderedDict(MMPRETRAIN.from_ours(model.state_dict()))}, path)
    info = _json(capsys, path)
    assert info["layout"] == "mmpretrain" and info["parts"]["decoder"]
    assert info["norm_pix_loss"] is True and (info["epoch"], info["step"]) == (300, 93900)
    assert info["normalization"]["mean"] == pytest.approx([0.485, 0.456, 0.406], abs=1e-6)
    assert info["normalization"]["std"] == pytest.approx([0.229, 0.224, 0.225], abs=1e-6)


def test_hf_folder(tmp_path, capsys, model):
    pytest.importorskip("transformers")
    folder = export_hf(model, tmp_path / "hf", data={"mean": [0.1, 0.2, 0.3], "std": [0.4, 0.5, 0.6]})
    info = _json(capsys, folder)
    assert info["layout"] == "hf" and info["parts"]["decoder"] and info["file"].endswith("model.safetensors")
    assert info["normalization"]["mean"] == [0.1, 0.2, 0.3]


def test_key_prefix_is_named(tmp_path, capsys, model):
    path = tmp_path / "lightning.pt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in model.state_dict().items()}}, path)
    info = _json(capsys, path)
    assert info["layout"] == "colormae" and info["parts"]["decoder"]
    assert any(w.startswith("key prefix: every key starts with 'net.'") for w in info["warnings"])


def test_releases_are_named_by_their_published_checksums(tmp_path, capsys, model, monkeypatch):
    path = tmp_path / "mae_pretrain_vit_micro.pth"
    torch.save({"model": TIMM.from_ours({k: v for k, v in model.state_dict().items()
                                          if k.startswith("encoder.")})}, path)
    data = path.read_bytes()
    sha, md5 = hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()
    by_md5 = releases.Release("mae_pretrain_vit_micro.pth", "facebookresearch/mae", "https://x", None, None,
                              "encoder only", "colormae convert ...", md5=md5[:6])
    monkeypatch.setattr(releases, "RELEASES", [by_md5])
    assert _json(capsys, path)["release"]["matched"] == f"published md5 prefix {md5[:6]}"
    by_sha = releases.Release("x.pth", "ColorMAE", "https://y", len(data), sha, "full", "colormae convert x")
    monkeypatch.setattr(releases, "RELEASES", [by_sha])
    assert _json(capsys, path)["release"]["name"] == "x.pth"
    monkeypatch.setattr(releases, "RELEASES", [])
    assert _json(capsys, path)["release"] is None


def test_release_table_holds_only_well_formed_published_checksums():
    names = [r.name for r in releases.RELEASES]
    assert len(names) == len(set(names))
    for r in releases.RELEASES:
        assert r.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", r.sha256), r.name
        assert r.md5 is None or re.fullmatch(r"[0-9a-f]{6,32}", r.md5), r.name
        assert r.command.startswith("colormae ") and r.url.startswith("https://")
        assert releases.find_release(r.sha256) is r if r.sha256 else True
    assert releases.find_release("0" * 64) is None
    assert releases.find_release_md5("8cad7c" + "0" * 26).name == "mae_pretrain_vit_base.pth"


def test_unreadable_and_unknown_files_are_one_error_line(tmp_path, capsys):
    bad = tmp_path / "notes.pth"
    bad.write_text("hello")
    other = tmp_path / "resnet.pt"
    torch.save({"conv1.weight": torch.zeros(2, 3, 1, 1), "fc.weight": torch.zeros(2, 2)}, other)
    for path in (bad, other, tmp_path / "missing.pt"):
        assert main(["inspect", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
    assert inspect_checkpoint  # the library entry point is importable without the CLI
