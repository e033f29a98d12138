"""Reconstruction figures: exact inversion of norm-pix targets, and the figure's pixel size."""

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from colormae.errors import UserError
from colormae.viz.recon import mask_image, reconstruct, reconstruction_figure
from colormae.viz.style import grid_pixels


@dataclass
class _Cfg:
    patch_size: int = 4
    in_chans: int = 3
    norm_pix_loss: bool = True


class OracleMAE(nn.Module):
    """A stand-in MAE whose prediction is exactly its (norm-pix) target: reconstruction must be the input.

    patchify / target follow the MAE conventions (row-major patches, (p, p, C) order inside a patch,
    unbiased variance + 1e-6), written out here so the test does not depend on the model package.
    """

    def __init__(self, norm_pix: bool, img: int = 16, p: int = 4):
        super().__init__()
        self.config = _Cfg(patch_size=p, norm_pix_loss=norm_pix)
        self.grid = (img // p, img // p)
        self.dummy = nn.Parameter(torch.zeros(()))

    def patchify(self, x):
        b, c, h, w = x.shape
        p = self.config.patch_size
        x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, (h // p) * (w // p), p * p * c)

    def unpatchify(self, x):
        b, _, d = x.shape
        p = self.config.patch_size
        c = d // (p * p)
        gh, gw = self.grid
        x = x.reshape(b, gh, gw, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(b, c, gh * p, gw * p)

    def target(self, x):
        t = self.patchify(x)
        if self.config.norm_pix_loss:
            t = (t - t.mean(-1, keepdim=True)) / (t.var(-1, keepdim=True) + 1e-6) ** 0.5
        return t

    def forward(self, images, mask):
        return SimpleNamespace(loss=torch.zeros(()), pred=self.target(images), mask=mask, latent=None)


@pytest.mark.parametrize("norm_pix", [True, False])
def test_oracle_reconstruction_equals_input(norm_pix, gen):
    model = OracleMAE(norm_pix)
    images = torch.randn(3, 3, 16, 16, generator=gen) * 2 + 0.5
    mask = torch.rand(3, 16, generator=gen) < 0.75
    rec = reconstruct(model, images, mask, stats="true")
    assert torch.allclose(rec.recon, images, atol=1e-5)
    assert torch.allclose(rec.pasted, images, atol=1e-5)
    # the masked view keeps visible pixels and zeroes exactly the masked patches
    pix = model.patchify(rec.masked)
    assert torch.equal(pix[mask], torch.zeros_like(pix[mask]))
    assert torch.equal(pix[~mask], model.patchify(images)[~mask])


def test_norm_pix_prediction_is_not_shown_raw(gen):
    """Without un-normalising, the oracle's norm-pix prediction would differ from the input."""
    model = OracleMAE(True)
    images = torch.randn(2, 3, 16, 16, generator=gen) * 3 + 1
    raw = model.unpatchify(model.target(images))
    assert not torch.allclose(raw, images, atol=1e-2)


def test_reconstruction_figure_size(tmp_path, gen):
    model = OracleMAE(True)
    images = torch.randn(2, 3, 16, 16, generator=gen)

    def every_other(batch, grid, *, generator=None, device=None):
        mask = torch.zeros(batch, grid[0] * grid[1], dtype=torch.bool, device=device)
        mask[:, ::2] = True
        return mask

    def random(batch, grid, *, generator=None, device=None):
        return torch.rand(batch, grid[0] * grid[1], generator=generator, device=device) < 0.75

    out = reconstruction_figure(model, images, {"stripes": every_other, "random": random},
                                tmp_path / "recon.png")
    assert Image.open(out).size == grid_pixels(4, 4)


@pytest.mark.parametrize("norm_pix", [True, False])
def test_real_mae_target_inverts_exactly(norm_pix, gen):
    """With the real model's patchify / target (norm-pix conventions), an oracle prediction is the input."""
    from colormae.models import MAEOutput, create_mae

    mae = create_mae("mae_vit_micro_32px", norm_pix_loss=norm_pix)
    mae.forward = lambda images, mask: MAEOutput(torch.zeros(()), mae.target(images), mask, None)
    images = torch.randn(2, 3, 32, 32, generator=gen)
    mask = torch.rand(2, mae.num_patches, generator=gen) < 0.75
    rec = reconstruct(mae, images, mask, stats="true")
    assert torch.allclose(rec.recon, images, atol=1e-5)
    honest = reconstruct(mae, images, mask)  # visible stats: only the visible patches come back exactly
    shown = 1 - mask_image(mae, mask.to(torch.bool))
    assert torch.allclose(honest.recon * shown, images * shown, atol=1e-5)
    if norm_pix:
        assert not torch.allclose(honest.recon, images, atol=1e-2)
    else:
        assert torch.equal(honest.recon, rec.recon)


# ------------------------------------------------------------------------ channels, bands, statistics
def test_display_views_unnormalise_with_the_given_statistics():
    from colormae.data import Normalization
    from colormae.viz.display import display_views

    norm = Normalization((0.2, 0.4, 0.6, 0.8), (0.1, 0.1, 0.1, 0.1), "none")
    pixels = torch.rand(2, 4, 8, 8)
    x = (pixels - torch.tensor(norm.mean).view(1, 4, 1, 1)) / 0.1
    labels, (view,) = display_views([x], Normalization(norm.mean, norm.std, "imagenet"), bands=(4, 1, 2))
    assert labels == ["bands 4,1,2"] and view.shape == (1, 2, 8, 8, 3)
    expected = pixels[:, [3, 0, 1]].clamp(0, 1).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(view[0], expected, atol=1e-5)
    labels, (view,) = display_views([x], norm)  # no bands, 4 channels: every band in grey
    assert labels == ["band 1", "band 2", "band 3", "band 4"] and view.shape == (4, 2, 8, 8, 3)
    assert np.array_equal(view[..., 0], view[..., 2])
    with pytest.raises(UserError, match="band 5"):
        display_views([x], norm, bands=(5, 1, 2))


def test_one_channel_is_grey_not_fake_rgb():
    from colormae.data import Normalization
    from colormae.viz.display import display_views

    norm = Normalization((0.3,), (0.2,), "dataset")
    labels, (view,) = display_views([torch.randn(3, 1, 8, 8)], norm)
    assert labels == [""] and view.shape == (1, 3, 8, 8, 3)
    assert np.array_equal(view[..., 0], view[..., 1]) and np.array_equal(view[..., 1], view[..., 2])
    assert view.min() == 0.0 and view.max() == 1.0  # stretched 2nd-98th percentile


def test_six_band_figure_has_a_row_per_band(tmp_path, gen):
    from colormae.data import Normalization

    model = OracleMAE(True)
    model.config.in_chans = 6
    images = torch.randn(2, 6, 16, 16, generator=gen)
    norm = Normalization((0.5,) * 6, (0.2,) * 6, "dataset")

    def random(batch, grid, *, generator=None, device=None):
        return torch.rand(batch, grid[0] * grid[1], generator=generator, device=device) < 0.75

    out = reconstruction_figure(model, images, {"random": random}, tmp_path / "all.png", norm=norm)
    assert Image.open(out).size == grid_pixels(2 * 6, 4)
    out = reconstruction_figure(model, images, {"random": random}, tmp_path / "rgb.png", norm=norm,
                                bands=(3, 2, 1))
    assert Image.open(out).size == grid_pixels(2, 4)


def test_parse_bands():
    from colormae.viz.display import parse_bands

    assert parse_bands("3,2,1") == (3, 2, 1) and parse_bands("4") == (4,) and parse_bands(None) is None
    for bad in ("3,2", "a,b,c"):
        with pytest.raises(UserError):
            parse_bands(bad)
