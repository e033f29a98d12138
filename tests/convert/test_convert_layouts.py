"""Key layouts of facebookresearch/mae, mmpretrain and timm: built from their names, imported exactly."""

import pytest
import torch

from colormae.convert.api import detect_layout, import_model, load_into
from colormae.convert.infer import infer_config
from colormae.convert.layouts import MAE, MMPRETRAIN, TIMM
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
    with pytest.raises(ConversionError, match="weights_only"):
        read_source(path)
