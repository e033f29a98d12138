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
