"""2-D sin-cos position embedding: shape, sin^2+cos^2 = 1 pairs, and the MAE / HF layout."""

import math

import pytest
import torch

from colormae.models import sincos_2d


def test_shape_and_cls_row():
    emb = sincos_2d(32, (3, 5), cls_token=True)
    assert emb.shape == (1 + 15, 32) and emb.dtype == torch.float32
    assert torch.equal(emb[0], torch.zeros(32))


def test_sin_cos_pairs_have_unit_norm():
    emb = sincos_2d(64, 7)
    q = 64 // 4
    for half in (0, 32):
        s, c = emb[:, half : half + q], emb[:, half + q : half + 2 * q]
        torch.testing.assert_close(s**2 + c**2, torch.ones_like(s))


def test_first_half_encodes_column_second_half_row():
    emb = sincos_2d(16, (2, 3))
    # token (i=1, j=2) -> index 5; the first frequency is 1 rad per step: sin(j), then row half sin(i).
    assert emb[5, 0].item() == pytest.approx(math.sin(2.0), abs=1e-6)
    assert emb[5, 8].item() == pytest.approx(math.sin(1.0), abs=1e-6)
    assert torch.equal(emb[0], torch.cat([torch.zeros(4), torch.ones(4), torch.zeros(4), torch.ones(4)]))


def test_matches_hugging_face_vitmae_layout():
    hf = pytest.importorskip("transformers.models.vit_mae.modeling_vit_mae")
    ref = hf.build_2d_sinusoidal_position_embedding(4, 4, embed_dim=32, cls_token=True).float()
    half = 16
    ref = torch.cat([ref[:, half:], ref[:, :half]], dim=1)  # HF rotates to the pretrained (MAE) layout
    torch.testing.assert_close(sincos_2d(32, 4, cls_token=True), ref)


# --------------------------------------------------------------------------------- other grid sizes
def test_sincos_table_8x8_to_12x8_and_back_is_the_original():
    from colormae.models import create_mae
    from colormae.models.pos_embed import resample_pos_embed

    mae = create_mae("mae_vit_micro_32px")  # 32 px / 4 px patches: an 8x8 grid
    for key, table in (("enc", mae.encoder.pos_embed.data), ("dec", mae.decoder_pos_embed.data)):
        wide = resample_pos_embed(table, (8, 8), (12, 8))
        assert wide.shape == (1, 1 + 96, table.shape[-1]), key
        torch.testing.assert_close(wide[0, 1:], sincos_2d(table.shape[-1], (12, 8)))  # a 12x8 model's own
        torch.testing.assert_close(resample_pos_embed(wide, (12, 8), (8, 8)), table, atol=1e-5, rtol=0)


def test_learned_table_is_resampled_bicubically_and_same_grid_is_identity():
    from timm.layers import resample_abs_pos_embed

    from colormae.models.pos_embed import is_sincos, resample_pos_embed

    table = torch.randn(1, 1 + 64, 16, generator=torch.Generator().manual_seed(0))
    assert not is_sincos(table, 8)
    assert resample_pos_embed(table, 8, 8) is table
    out = resample_pos_embed(table, (8, 8), (12, 8))
    assert torch.equal(out[:, :1], table[:, :1])  # [CLS] row kept
    torch.testing.assert_close(out, resample_abs_pos_embed(table, [12, 8], [8, 8], num_prefix_tokens=1))
    const = torch.ones(1, 1 + 64, 16) * torch.arange(16.0)
    expected = torch.ones(1, 97, 16) * torch.arange(16.0)
    torch.testing.assert_close(resample_pos_embed(const, 8, (12, 8)), expected)


def test_resized_model_matches_a_fresh_model_of_that_size_and_comes_back():
    from colormae.models import create_mae
    from colormae.models.resize import resize_mae

    torch.manual_seed(0)
    mae = create_mae("mae_vit_micro_32px").eval()
    assert resize_mae(mae, 32) is mae and resize_mae(mae, (32, 32)) is mae  # own size: untouched
    wide = resize_mae(mae, (48, 32))
    assert wide.grid == (12, 8)
    fresh = create_mae("mae_vit_micro_32px", img_size=(48, 32))
    torch.testing.assert_close(wide.encoder.pos_embed, fresh.encoder.pos_embed)
    torch.testing.assert_close(wide.decoder_pos_embed, fresh.decoder_pos_embed)
    images = torch.randn(2, 3, 48, 32)
    assert wide.forward_features(images).shape == (2, 1 + 96, 64)
    back = resize_mae(wide, 32)
    for key, value in mae.state_dict().items():
        torch.testing.assert_close(back.state_dict()[key], value, atol=1e-5, rtol=0)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(back.forward_features(x), mae.forward_features(x))


def test_encoder_from_a_checkpoint_at_its_own_size_is_unchanged(tmp_path):
    import dataclasses

    from colormae.eval.probes import at_image_size
    from colormae.loading import load
    from colormae.models import create_mae
    from colormae.train.checkpoint import save_checkpoint

    torch.manual_seed(1)
    mae = create_mae("mae_vit_micro_32px", img_size=(24, 32)).eval()
    path = save_checkpoint(tmp_path / "m.pt", {"kind": "pretrain", "model": mae.state_dict(),
                                               "model_config": dataclasses.asdict(mae.config)})

    def load_encoder(p, img_size=None):
        return at_image_size(load(p), img_size)

    plain = load_encoder(path)
    same = load_encoder(path, img_size=(24, 32))
    assert plain.img_size == same.img_size == (24, 32)
    x = torch.randn(2, 3, 24, 32)
    with torch.no_grad():
        assert torch.equal(same.model.forward_features(x), mae.forward_features(x))
        assert torch.equal(plain.model.forward_features(x), mae.forward_features(x))
    other = load_encoder(path, img_size=(32, 40))
    assert other.img_size == (32, 40) and other.model.grid == (8, 10)
    assert other.model.forward_features(torch.randn(1, 3, 32, 40)).shape == (1, 81, 64)
