"""``pretrain init=CKPT``: a run starts from a Hugging Face, facebookresearch/mae or official-layout
mmpretrain checkpoint; with lr=0 one step later ``convert --to hf`` gives back every tensor exactly."""

from __future__ import annotations

from argparse import Namespace

import pytest
import torch
from safetensors.torch import load_file

from colormae import load
from colormae.cli import main
from colormae.convert import export_hf
from colormae.models import create_mae
from colormae.train import checkpoint as ckpt_io

transformers = pytest.importorskip("transformers")

RUN = ["data=mnist5k", "num_workers=0", "bank_size=16", "pattern_size=16", "batch_size=8", "epochs=1",
       "warmup_epochs=0", "log_every=1", "--no-progress"]


def _micro():
    torch.manual_seed(0)
    model = create_mae("mae_vit_micro_32px")
    with torch.no_grad():  # non-trivial norms and biases: a swapped or re-initialised one shows
        for name, p in model.named_parameters():
            if p.requires_grad and (name.endswith("bias") or "norm" in name):
                p.add_(0.1 * torch.randn_like(p))
    return model


def _mmpretrain_names(sd):
    """Ours -> the official ColorMAE / mmpretrain names (mmpretrain ``MAEViT`` backbone:
    patch_embed.projection, layers.N.{ln1,attn.qkv,attn.proj,ln2,ffn.layers.0.0,ffn.layers.1}, ln1;
    ``MAEPretrainDecoder`` neck: decoder_embed, mask_token, decoder_pos_embed, decoder_blocks.N with the
    same block names, ln1, decoder_pred)."""
    out = {}
    for k, v in sd.items():
        n = (k.replace("encoder.patch_embed.proj.", "backbone.patch_embed.projection.")
             .replace("encoder.blocks.", "backbone.layers.")
             .replace("decoder_blocks.", "neck.decoder_blocks.")
             .replace(".norm1.", ".ln1.").replace(".norm2.", ".ln2.")
             .replace(".mlp.fc1.", ".ffn.layers.0.0.").replace(".mlp.fc2.", ".ffn.layers.1.")
             .replace("encoder.norm.", "backbone.ln1.").replace("decoder_norm.", "neck.ln1.")
             .replace("encoder.cls_token", "backbone.cls_token")
             .replace("encoder.pos_embed", "backbone.pos_embed"))
        if n.split(".")[0] in ("decoder_embed", "mask_token", "decoder_pos_embed", "decoder_pred"):
            n = "neck." + n
        out[n] = v
    return out


def _warm_then_hf(tmp_path, init, *more):
    """pretrain init=INIT for one step at lr=0, then convert the run --to hf; the written tensors."""
    out = tmp_path / "run"
    assert main(["pretrain", "--out", str(out), f"init={init}", "lr=0", "max_steps=1", *RUN, *more]) == 0
    assert main(["convert", str(out), "-o", str(tmp_path / "hf_out"), "--to", "hf"]) == 0
    return load_file(str(tmp_path / "hf_out" / "model.safetensors")), out


def _assert_equal(theirs, ours):
    assert set(theirs) == set(ours)
    bad = [k for k in theirs if not torch.equal(theirs[k], ours[k])]
    assert not bad, bad[:5]


def test_init_from_hf_save_pretrained_round_trips_exactly(tmp_path, capsys):
    torch.manual_seed(0)
    cfg = transformers.ViTMAEConfig(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256,
        decoder_hidden_size=32, decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
        decoder_intermediate_size=128, image_size=32, patch_size=4, norm_pix_loss=False)
    hf = transformers.ViTMAEForPreTraining(cfg)
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    hf.save_pretrained(tmp_path / "hf")
    written, run = _warm_then_hf(tmp_path, tmp_path / "hf", "norm_pix_loss=false")
    _assert_equal(load_file(str(tmp_path / "hf" / "model.safetensors")), written)
    text = capsys.readouterr().out
    assert "loaded encoder and decoder; fresh: optimizer, lr schedule" in text
    ckpt = torch.load(ckpt_io.latest_checkpoint(run), weights_only=True)
    assert ckpt["init"]["from"] == str(tmp_path / "hf") and ckpt["init"]["format"] == "hf"
    assert ckpt["init"]["loaded"] == ["encoder", "decoder"] and ckpt["step"] == 1
    assert load(run).checkpoint["init"]["format"] == "hf"  # what `colormae inspect` shows


@pytest.mark.parametrize("layout", ["mae", "mmpretrain", "mmpretrain-safetensors"])
def test_init_from_mae_full_and_official_mmpretrain_round_trips_exactly(tmp_path, layout, capsys):
    model = _micro()
    sd = model.state_dict()
    if layout == "mae":  # facebookresearch/mae *_full.pth: {"model": ..., "args": Namespace(model=...)}
        ckpt = {"model": {k.removeprefix("encoder."): v for k, v in sd.items()},
                "args": Namespace(model="mae_vit_micro_32px", norm_pix_loss=False), "epoch": 799}
    else:  # an mmengine checkpoint of the official ColorMAE code
        ckpt = {"state_dict": _mmpretrain_names(sd),
                "meta": {"epoch": 300, "cfg": "head=dict(type='MAEPretrainHead', norm_pix=False)"}}
        ckpt["state_dict"]["data_preprocessor.mean"] = torch.zeros(3)
    src = tmp_path / "src.pth"
    if layout == "mmpretrain-safetensors":  # the official weights as the Hugging Face archive has them
        from safetensors.torch import save_file

        src = tmp_path / "colormae.safetensors"
        save_file({k: v.contiguous() for k, v in ckpt["state_dict"].items()}, str(src))
    else:
        torch.save(ckpt, src)
    written, _ = _warm_then_hf(tmp_path, src)
    warned = "was trained with norm_pix_loss=False, this run uses True" in capsys.readouterr().err
    assert warned == (layout != "mmpretrain-safetensors")  # a bare safetensors file states no flag
    export_hf(model, tmp_path / "reference")  # the source model written the same way, untrained
    _assert_equal(load_file(str(tmp_path / "reference" / "model.safetensors")), written)


def test_encoder_only_resampled_and_mismatches(tmp_path, capsys):
    model = _micro()
    enc = {k.removeprefix("encoder."): v for k, v in model.state_dict().items() if k.startswith("encoder.")}
    torch.save({"model": enc}, tmp_path / "enc.pth")  # an encoder-only release (timm names)
    out = tmp_path / "run"
    assert main(["pretrain", "--out", str(out), f"init={tmp_path / 'enc.pth'}", "img_size=48", "lr=0",
                 "max_steps=1", *RUN]) == 0
    assert "loaded encoder; fresh: decoder (MAE init), optimizer, lr schedule" in capsys.readouterr().out
    warm = load(out).mae()
    assert warm.config.image_hw == (48, 48) and warm.encoder.pos_embed.shape[1] == 1 + 12 * 12
    same = {k: v for k, v in model.state_dict().items() if k.startswith("encoder.") and "pos_embed" not in k}
    assert all(torch.equal(warm.state_dict()[k], v) for k, v in same.items())
    # a patch size or width that does not fit: one line naming both
    assert main(["pretrain", "--out", str(tmp_path / "r2"), f"init={tmp_path / 'enc.pth'}",
                 "model=mae_vit_tiny_32px", *RUN]) == 2
    assert "its width 64 does not fit model=mae_vit_tiny_32px (width 128)" in capsys.readouterr().err
    # other channels without init_channels: refused, saying how
    assert main(["pretrain", "--out", str(tmp_path / "r3"), f"init={tmp_path / 'enc.pth'}", "in_chans=1",
                 *RUN]) == 2
    assert "init_channels=mean" in capsys.readouterr().err


def test_resume_wins_over_init(tmp_path, capsys):
    from colormae.convert import export_colormae

    export_colormae(_micro(), tmp_path / "src.pt", data={"norm_pix_loss": False})
    out = tmp_path / "run"
    argv = ["pretrain", "--out", str(out), f"init={tmp_path / 'src.pt'}", "lr=1e-3", *RUN]
    assert main([*argv, "max_steps=2"]) == 0
    assert "norm_pix_loss=False, this run uses True" in capsys.readouterr().err  # the file's flag differs
    first = torch.load(ckpt_io.latest_checkpoint(out), weights_only=True)
    assert main([*argv, "max_steps=3", "--resume", "--allow-changes"]) == 0
    assert "init=" in (text := capsys.readouterr().out) and "is not applied again" in text
    last = torch.load(ckpt_io.latest_checkpoint(out), weights_only=True)
    assert last["step"] == 3 and last["init"] == first["init"]


@pytest.mark.slow
def test_warm_start_begins_at_a_lower_loss_than_a_fresh_run(tmp_path):
    """60 steps on mnist5k, then 3 steps on photos: from those weights the first losses are lower than a
    fresh run's with the same seed, data order and masks (docs: 100-step curves in the issue-21 note)."""
    import json

    common = ["model=mae_vit_micro_32px", "num_workers=0", "batch_size=32", "epochs=none", "warmup_steps=2",
              "lr=1.5e-3", "log_every=1", "bank_size=16", "pattern_size=16", "--no-progress"]
    assert main(["pretrain", "--out", str(tmp_path / "src"), "data=mnist5k", "max_steps=60", *common]) == 0

    def losses(name, *more):
        assert main(["pretrain", "--out", str(tmp_path / name), "data=photos", "max_steps=3", *common,
                     *more]) == 0
        rows = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        return [json.loads(r)["loss"] for r in rows if '"loss"' in r]

    warm, fresh = losses("warm", f"init={tmp_path / 'src'}"), losses("fresh")
    assert len(warm) == len(fresh) == 3
    assert all(w < f for w, f in zip(warm, fresh, strict=True)), (warm, fresh)
