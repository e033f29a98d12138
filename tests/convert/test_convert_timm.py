"""Encoder export to timm and import from timm, verified by output equality with timm's own model."""

import json

import pytest
import timm
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from colormae.convert import export_timm, import_model, timm_spec
from colormae.export import convert
from colormae.models import PRESETS, create_mae


def _timm_from_file(path):
    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata()
    kwargs = json.loads(meta["timm_kwargs"])
    model = timm.create_model(meta["timm_model"], pretrained=False, num_classes=0, **kwargs)
    model.load_state_dict(load_file(str(path)))  # strict
    return model.eval()


def test_export_to_timm_gives_same_features(tmp_path):
    torch.manual_seed(0)
    ours = create_mae("mae_vit_micro_32px").eval()
    path = export_timm(ours, tmp_path / "enc.safetensors")
    theirs = _timm_from_file(path)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(theirs.forward_features(x), ours.forward_features(x), rtol=0, atol=0)
        torch.testing.assert_close(theirs(x), ours.forward_features(x)[:, 0], rtol=0, atol=0)


def test_timm_names_of_standard_sizes():
    assert timm_spec(PRESETS["mae_vit_base_patch16"]) == ("vit_base_patch16_224", {})
    assert timm_spec(PRESETS["mae_vit_huge_patch14"]) == ("vit_huge_patch14_224", {})
    small = PRESETS["mae_vit_micro_32px"]
    name, kwargs = timm_spec(small)
    assert name == "vit_base_patch16_224"
    assert kwargs["patch_size"] == small.patch_size and kwargs["embed_dim"] == small.embed_dim
    assert kwargs["img_size"] == [32, 32] and kwargs["num_heads"] == small.num_heads


@pytest.mark.parametrize("with_head", [False, True])
def test_import_timm_vit_encoder(tmp_path, with_head):
    torch.manual_seed(1)
    vit = timm.create_model("vit_base_patch16_224", pretrained=False, img_size=32, patch_size=4, embed_dim=64,
                            depth=2, num_heads=4, num_classes=10 if with_head else 0).eval()
    save_file(vit.state_dict(), str(tmp_path / "vit.safetensors"))
    imported = import_model(tmp_path / "vit.safetensors")
    assert imported.layout == "timm" and any("decoder is freshly initialised" in n for n in imported.notes)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ours = imported.model.forward_features(x)
        torch.testing.assert_close(ours, vit.forward_features(x), rtol=0, atol=0)
    # and on to our checkpoint format, then back out to timm: same encoder weights
    convert(tmp_path / "vit.safetensors", tmp_path / "ours.pt", to="colormae")
    convert(tmp_path / "ours.pt", tmp_path / "back.safetensors", to="timm")
    back = load_file(str(tmp_path / "back.safetensors"))
    src = {k: v for k, v in vit.state_dict().items() if not k.startswith("head")}
    assert back.keys() == src.keys() and all(torch.equal(back[k], src[k]) for k in src)
