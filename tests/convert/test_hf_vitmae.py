"""Our MAE and Hugging Face ViTMAEForPreTraining with the same weights and mask compute the same thing."""

import pytest
import torch

from colormae.convert.hf_vitmae import (
    config_from_hf,
    from_hf_state_dict,
    hf_config,
    to_hf_model,
    to_hf_state_dict,
)
from colormae.errors import UserError
from colormae.masking import RandomMasking, to_hf_noise
from colormae.models import create_mae

transformers = pytest.importorskip("transformers")


@pytest.fixture
def model():
    torch.manual_seed(0)
    model = create_mae("mae_vit_micro_32px", decoder_depth=2).eval()
    with torch.no_grad():  # non-trivial norms and biases, so a swapped name could not go unnoticed
        for name, p in model.named_parameters():
            if p.requires_grad and (name.endswith("bias") or "norm" in name):
                p.add_(0.1 * torch.randn_like(p))
    return model


def test_same_loss_pred_mask_and_latent_as_hugging_face(model, gen):
    hf = to_hf_model(model, mask_ratio=0.75)
    images = torch.randn(3, 3, 32, 32, generator=gen)
    mask = RandomMasking(0.75)(3, model.grid, generator=gen)
    with torch.no_grad():
        ours = model(images, mask)
        theirs = hf(pixel_values=images, noise=to_hf_noise(mask))
        hf_latent = hf.vit(pixel_values=images, noise=to_hf_noise(mask)).last_hidden_state
    assert torch.equal(theirs.mask.bool(), mask)
    torch.testing.assert_close(ours.latent, hf_latent, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.pred, theirs.logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.loss, theirs.loss, rtol=1e-6, atol=1e-5)
    assert model.config.norm_pix_loss and hf.config.norm_pix_loss


def test_state_dict_round_trip_is_exact(model):
    for version in (4, 5):
        hf_sd = to_hf_state_dict(model, version=version)
        back = from_hf_state_dict(hf_sd, model.config)
        ours = model.state_dict()
        assert set(back) == set(ours)
        assert all(torch.equal(back[k], ours[k]) for k in ours)
    hf_model = transformers.ViTMAEForPreTraining(hf_config(model.config))
    assert set(hf_model.state_dict()) == set(to_hf_state_dict(model))


def test_config_round_trip_and_errors(model):
    assert config_from_hf(hf_config(model.config)) == model.config
    assert config_from_hf(hf_config(model.config).to_dict()) == model.config
    sd = to_hf_state_dict(model)
    with pytest.raises(UserError, match="decoder blocks"):
        from_hf_state_dict(sd, create_mae("mae_vit_micro_32px").config)
    sd.pop("vit.layernorm.weight")
    with pytest.raises(UserError, match="vit.layernorm.weight"):
        from_hf_state_dict(sd)


def _small_default_hf_config():
    """``ViTMAEConfig()`` with its defaults (layer_norm_eps 1e-12, GELU, no norm-pix loss) but small."""
    return transformers.ViTMAEConfig(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256,
        decoder_hidden_size=32, decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
        decoder_intermediate_size=128, image_size=32, patch_size=4,
    )


def test_default_hf_config_converts_to_the_same_loss(tmp_path, gen, capsys):
    from dataclasses import replace
    from functools import partial

    from colormae.cli import main
    from colormae.loading import load
    from colormae.models import MaskedAutoencoder

    cfg = _small_default_hf_config()
    assert cfg.layer_norm_eps == 1e-12 == transformers.ViTMAEConfig().layer_norm_eps
    torch.manual_seed(0)
    hf = transformers.ViTMAEForPreTraining(cfg).eval()
    hf.save_pretrained(tmp_path / "hf")
    assert main(["convert", str(tmp_path / "hf"), "-o", str(tmp_path / "ours.pt")]) == 0
    capsys.readouterr()
    ours = load(tmp_path / "ours.pt").mae()
    assert ours.config.layer_norm_eps == 1e-12
    assert all(m.eps == 1e-12 for m in ours.modules() if isinstance(m, torch.nn.LayerNorm))
    images = torch.randn(4, 3, 32, 32, generator=gen)
    mask = RandomMasking(cfg.mask_ratio)(4, ours.grid, generator=gen)
    with torch.no_grad():
        theirs = hf(pixel_values=images, noise=to_hf_noise(mask))
        mine = ours(images, mask)
        # the control: the same weights with our old fixed epsilon (1e-6) are measurably off
        old = MaskedAutoencoder(replace(ours.config, layer_norm_eps=1e-6)).eval()
        old.load_state_dict(ours.state_dict())
        off = old(images, mask)
    assert torch.equal(theirs.mask.bool(), mask)
    assert abs(mine.loss.item() - theirs.loss.item()) <= 1e-6
    torch.testing.assert_close(mine.pred, theirs.logits, rtol=1e-5, atol=1e-6)
    assert abs(off.loss.item() - theirs.loss.item()) > 1e-5
    # and out again: the exported config.json keeps HF's epsilon
    assert main(["convert", str(tmp_path / "ours.pt"), "-o", str(tmp_path / "back"), "--to", "hf"]) == 0
    assert transformers.ViTMAEConfig.from_pretrained(tmp_path / "back").layer_norm_eps == 1e-12
    # to timm: the note says what to add, and with it timm computes our features
    import timm
    from safetensors.torch import load_file

    from colormae.convert import timm_spec
    from colormae.export import convert

    notes = convert(tmp_path / "ours.pt", tmp_path / "enc.safetensors", to="timm").notes
    assert any("LayerNorm epsilon is 1e-12" in n and "eps=1e-12" in n for n in notes)
    name, kwargs = timm_spec(ours.config)
    vit = timm.create_model(name, pretrained=False, num_classes=0, **kwargs,
                            norm_layer=partial(torch.nn.LayerNorm, eps=1e-12)).eval()
    vit.load_state_dict(load_file(str(tmp_path / "enc.safetensors")))
    with torch.no_grad():
        torch.testing.assert_close(vit.forward_features(images), ours.encoder.forward_features(images),
                                   rtol=0, atol=0)


def test_hf_configs_we_cannot_compute_are_refused():
    cfg = _small_default_hf_config()
    for change in ({"hidden_act": "relu"}, {"qkv_bias": False}):
        with pytest.raises(UserError, match="exact GELU with qkv bias"):
            config_from_hf({**cfg.to_dict(), **change})
