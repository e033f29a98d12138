"""Key layouts of facebookresearch/mae, mmpretrain and timm: built from their names, imported exactly."""

import pytest
import torch

from colormae.convert.api import detect_layout, import_model, load_into
from colormae.convert.infer import infer_config
from colormae.convert.layouts import MAE, MMPRETRAIN, MMSEG, TIMM
from colormae.convert.reading import ConversionError, read_source
from colormae.models import create_mae

torch.manual_seed(0)


def _model():
    torch.manual_seed(0)
    return create_mae("mae_vit_micro_32px").eval()


def _mmpretrain_names(sd):
    """Rename ours to mmpretrain's MAEViT / MAEPretrainDecoder names, written out independently."""
    out = {}
    for k, v in sd.items():
        n = k
        n = n.replace("encoder.patch_embed.proj.", "backbone.patch_embed.projection.")
        n = n.replace("encoder.blocks.", "backbone.layers.")
        n = n.replace("decoder_blocks.", "neck.decoder_blocks.")
        n = n.replace(".norm1.", ".ln1.").replace(".norm2.", ".ln2.")
        n = n.replace(".mlp.fc1.", ".ffn.layers.0.0.").replace(".mlp.fc2.", ".ffn.layers.1.")
        n = n.replace("encoder.norm.", "backbone.ln1.").replace("decoder_norm.", "neck.ln1.")
        n = n.replace("encoder.cls_token", "backbone.cls_token")
        n = n.replace("encoder.pos_embed", "backbone.pos_embed")
        if n.split(".")[0] in ("decoder_embed", "mask_token", "decoder_pos_embed", "decoder_pred"):
            n = "neck." + n
        out[n] = v
    return out


def _assert_same_model(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    x = torch.randn(2, 3, 32, 32)
    mask = torch.zeros(2, a.num_patches, dtype=torch.bool)
    mask[:, ::2] = True
    torch.testing.assert_close(a(x, mask).pred, b(x, mask).pred, rtol=0, atol=0)


@pytest.mark.parametrize("wrapper", ["model", "state_dict"])
def test_mae_and_mmpretrain_import_exactly(tmp_path, wrapper):
    model = _model()
    sd = model.state_dict()
    if wrapper == "model":  # facebookresearch/mae: encoder keys at top level, decoder_* as ours
        theirs = {k.removeprefix("encoder."): v for k, v in sd.items()}
        assert "blocks.0.attn.qkv.weight" in theirs and "decoder_blocks.0.mlp.fc2.bias" in theirs
        layout = "mae"
    else:
        theirs = _mmpretrain_names(sd)
        assert "backbone.layers.1.ffn.layers.0.0.weight" in theirs and "neck.ln1.weight" in theirs
        theirs["data_preprocessor.mean"] = torch.zeros(3)  # not a model weight: ignored
        layout = "mmpretrain"
    path = tmp_path / "ckpt.pth"
    torch.save({wrapper: theirs, "meta": {"epoch": 3}}, path)
    assert detect_layout(read_source(path)) == layout
    imported = import_model(path, num_heads=4, decoder_num_heads=2)
    assert imported.layout == layout
    _assert_same_model(model, imported.model)


def test_keymaps_round_trip_exactly():
    sd = _model().state_dict()
    for keymap in (MAE, MMPRETRAIN):
        back = keymap.to_ours(keymap.from_ours(sd))
        assert back.keys() == sd.keys() and all(back[k] is sd[k] for k in sd)
    enc = {k: v for k, v in sd.items() if k.startswith("encoder.")}
    assert TIMM.to_ours(TIMM.from_ours(enc)).keys() == enc.keys()
    backbone = {k: v for k, v in enc.items() if not k.startswith("encoder.norm.")}  # mmseg: no final norm
    assert MMSEG.to_ours(MMSEG.from_ours(backbone)).keys() == backbone.keys()
    assert "layers.1.attn.qkv.bias" in MMSEG.from_ours(backbone)
    from colormae.convert.hf_vitmae import _KEYMAPS  # fused qkv <-> q / k / v, transformers 4 and 5

    for keymap in _KEYMAPS.values():
        theirs = keymap.from_ours(sd)
        back = keymap.to_ours(theirs)
        assert back.keys() == sd.keys() and all(torch.equal(back[k], sd[k]) for k in sd)
    theirs.pop("vit.encoder.layer.0.attention.attention.key.weight")
    with pytest.raises(ConversionError, match="parts missing for encoder.blocks.0.attn.qkv.weight"):
        _KEYMAPS[4].to_ours(theirs)
    assert _mmpretrain_names(sd) == MMPRETRAIN.from_ours(sd)


def test_infer_config_finds_preset_and_shapes():
    cfg = infer_config(_model().state_dict())
    assert (cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.patch_size, cfg.img_size) == (64, 2, 4, 4, 32)
    assert (cfg.decoder_embed_dim, cfg.decoder_depth, cfg.decoder_num_heads) == (32, 1, 2)


def test_unknown_layout_and_bad_keys_are_user_errors(tmp_path):
    path = tmp_path / "weird.pt"
    torch.save({"foo.weight": torch.zeros(2), "bar.bias": torch.zeros(1)}, path)
    with pytest.raises(ConversionError, match="unknown checkpoint layout.*bar.bias, foo.weight"):
        import_model(path)
    theirs = {k.removeprefix("encoder."): v for k, v in _model().state_dict().items()}
    theirs["blocks.0.ls1.gamma"] = torch.ones(64)
    torch.save({"model": theirs}, path)
    with pytest.raises(ConversionError, match="no counterpart.*blocks.0.ls1.gamma"):
        import_model(path, from_="mae")


def test_shape_mismatch_lists_keys():
    model = _model()
    sd = dict(model.state_dict())
    sd["decoder_pred.bias"] = torch.zeros(5)
    with pytest.raises(ConversionError, match=r"shape mismatch.*decoder_pred.bias \(5,\) vs \(48,\)"):
        load_into(model, sd)
    del sd["decoder_pred.bias"]
    with pytest.raises(ConversionError, match="missing decoder_pred.bias"):
        load_into(model, sd)


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "obj": ConversionError("x")}, path)
    with pytest.raises(ConversionError, match="refused.*would call colormae.convert.reading.ConversionError"):
        read_source(path)


def _mae_file(path, model, **extra):
    theirs = {k.removeprefix("encoder."): v for k, v in model.state_dict().items()}
    torch.save({"model": theirs, **extra}, path)
    return path


def test_head_counts_come_from_a_matching_preset_or_are_said_to_be_guessed(tmp_path, capsys):
    from argparse import Namespace

    from colormae.cli import main

    # encoder = the micro preset's, decoder (48 wide, 2 deep) = no preset's: one part taken, one guessed
    model = create_mae("mae_vit_micro_32px", decoder_embed_dim=48, decoder_depth=2, decoder_num_heads=3)
    path = _mae_file(tmp_path / "a.pth", model)
    imported = import_model(path)
    assert (imported.model.config.num_heads, imported.model.config.decoder_num_heads) == (4, 1)
    notes = " | ".join(imported.notes)
    assert "num_heads=4 taken from preset mae_vit_micro_32px" in notes
    assert "GUESSED head counts: decoder_num_heads=1 (48-wide heads)" in notes
    assert "--decoder-num-heads" in notes
    assert main(["convert", str(path), "-o", str(tmp_path / "a.pt")]) == 0
    assert "note: GUESSED head counts: decoder_num_heads=1" in capsys.readouterr().out
    # the right count given: no guess, and the model computes what the source did
    fixed = import_model(path, decoder_num_heads=3)
    assert fixed.model.config == model.config and "GUESSED" not in " ".join(fixed.notes)
    _assert_same_model(model.eval(), fixed.model)
    # facebookresearch/mae's args.model names a preset: its head counts win over any other match
    model = create_mae("mae_vit_micro_32px")
    path = _mae_file(tmp_path / "b.pth", model, args=Namespace(model="mae_vit_micro_32px", lr=1e-3))
    notes = import_model(path).notes
    assert notes == ["head counts are not stored in weights: num_heads=4, decoder_num_heads=2 taken from "
                     "the checkpoint's args.model=mae_vit_micro_32px (same shapes)"]
    # nothing matches: both guessed, both printed
    odd = create_mae("mae_vit_micro_32px", embed_dim=96, num_heads=3, decoder_embed_dim=48,
                     decoder_num_heads=3)
    imported = import_model(_mae_file(tmp_path / "c.pth", odd))
    assert (imported.model.config.num_heads, imported.model.config.decoder_num_heads) == (1, 1)
    assert any("GUESSED head counts: num_heads=1 (96-wide heads), decoder_num_heads=1" in n
               for n in imported.notes)
