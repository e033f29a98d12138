"""Hugging Face ViTMAE through ``colormae convert``: folder export reproduces our outputs in transformers,
and HF -> ours -> HF round-trips exactly."""

import pytest
import torch

pytest.importorskip("transformers")
from transformers import ViTMAEForPreTraining  # noqa: E402

from colormae.convert import export_hf, import_model  # noqa: E402
from colormae.convert.hf_vitmae import hf_config  # noqa: E402
from colormae.export import convert  # noqa: E402
from colormae.masking import RandomMasking, to_hf_noise  # noqa: E402
from colormae.models import create_mae  # noqa: E402


def test_export_hf_folder_reproduces_our_model(tmp_path):
    torch.manual_seed(0)
    ours = create_mae("mae_vit_micro_32px").eval()
    folder = export_hf(ours, tmp_path / "hf")
    assert (folder / "config.json").exists() and (folder / "model.safetensors").exists()
    theirs = ViTMAEForPreTraining.from_pretrained(folder).eval()
    x = torch.randn(2, 3, 32, 32)
    mask = RandomMasking(0.75)(2, ours.grid, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = theirs(pixel_values=x, noise=to_hf_noise(mask))
        ref = ours(x, mask)
    assert torch.equal(out.mask.bool(), mask)
    torch.testing.assert_close(out.logits, ref.pred, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.loss, ref.loss, rtol=1e-5, atol=1e-6)
    # and back: the folder imports as exactly our weights, with the config read from config.json
    back = import_model(folder)
    assert back.layout == "hf" and back.model.config == ours.config
    for k, v in ours.state_dict().items():
        assert torch.equal(back.model.state_dict()[k], v), k


def test_hf_to_ours_to_hf_round_trip(tmp_path):
    torch.manual_seed(1)
    cfg = create_mae("mae_vit_micro_32px").config
    hf = ViTMAEForPreTraining(hf_config(cfg)).eval()
    hf.save_pretrained(tmp_path / "src")
    convert(tmp_path / "src", tmp_path / "ours.pt", to="colormae")
    convert(tmp_path / "ours.pt", tmp_path / "dst", to="hf")
    again = ViTMAEForPreTraining.from_pretrained(tmp_path / "dst").eval()
    a, b = hf.state_dict(), again.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # a bare HF state dict (no config.json) converts too: shapes give the config
    torch.save(hf.state_dict(), tmp_path / "bare.bin")
    imported = import_model(tmp_path / "bare.bin")
    assert imported.layout == "hf" and imported.model.config.depth == cfg.depth
    assert imported.model.config.layer_norm_eps == 1e-12  # HF's default: the file does not say
    assert any("LayerNorm epsilon taken as 1e-12" in n for n in imported.notes)
