"""Un-normalising norm-pix predictions: exact inverse with true statistics, no leak with visible ones."""

import pytest
import torch

from colormae.models.mae import NORM_PIX_EPS
from colormae.models.recon import unnormalize_prediction, visible_stats

GRID = (4, 5)
L = GRID[0] * GRID[1]


def _norm_pix(patches):
    mean, var = patches.mean(-1, keepdim=True), patches.var(-1, keepdim=True)
    return (patches - mean) / (var + NORM_PIX_EPS).sqrt()


def test_true_stats_invert_the_target_exactly(gen):
    patches = torch.randn(3, L, 12, generator=gen) * 3 + 2
    mask = torch.rand(3, L, generator=gen) < 0.75
    out = unnormalize_prediction(_norm_pix(patches), patches, mask, GRID, stats="true")
    torch.testing.assert_close(out, patches, atol=1e-5, rtol=1e-5)


def test_visible_stats_read_no_masked_pixel(gen):
    """Changing the masked patches' pixels changes nothing in the visible-stats reconstruction."""
    patches = torch.randn(2, L, 12, generator=gen)
    mask = torch.rand(2, L, generator=gen) < 0.6
    pred = torch.randn(2, L, 12, generator=gen)
    other = patches.clone()
    other[mask] = torch.randn(int(mask.sum()), 12, generator=gen) * 10 + 5
    a = unnormalize_prediction(pred, patches, mask, GRID)
    b = unnormalize_prediction(pred, other, mask, GRID)
    assert torch.equal(a, b)
    # ...while the true-stats mode does read them (the leak)
    assert not torch.allclose(unnormalize_prediction(pred, patches, mask, GRID, stats="true"),
                              unnormalize_prediction(pred, other, mask, GRID, stats="true"))
    # visible patches keep their own statistics: an oracle prediction returns them exactly
    exact = unnormalize_prediction(_norm_pix(patches), patches, mask, GRID)
    torch.testing.assert_close(exact[~mask], patches[~mask], atol=1e-5, rtol=1e-5)


def test_visible_stats_are_the_gaussian_weighted_neighbours():
    """Hand computation: one masked patch between visible ones at known distances."""
    patches = torch.zeros(1, L, 4)
    means = torch.arange(L, dtype=torch.float32)
    patches += means.view(1, L, 1)
    patches[..., :2] += 1.0  # every patch: values m+1, m+1, m, m -> mean m + 0.5, var 1/3
    mask = torch.zeros(1, L, dtype=torch.bool)
    mask[0, 6] = True  # row 1, col 1
    sigma = 1.5
    mean, var = visible_stats(patches, mask, GRID, sigma=sigma)
    r, c = torch.meshgrid(torch.arange(4), torch.arange(5), indexing="ij")
    d2 = ((r - 1) ** 2 + (c - 1) ** 2).flatten().float()
    w = torch.exp(-d2 / (2 * sigma**2))
    w[6] = 0
    expected = float((w * (means + 0.5)).sum() / w.sum())
    assert mean[0, 6, 0].item() == pytest.approx(expected, rel=1e-5)
    assert var[0, 6, 0].item() == pytest.approx(1 / 3, rel=1e-5)
    assert torch.equal(mean[0, :6, 0], means[:6] + 0.5)


def test_local_beats_image_wide_on_a_two_tone_image():
    """Bright left half, dark right half: a masked left patch gets a bright estimate."""
    patches = torch.zeros(1, L, 4)
    cols = torch.arange(L) % GRID[1]
    patches[0, cols < 2] = 10.0
    patches[0, ..., 0] += 1.0  # give every patch some variance
    mask = torch.zeros(1, L, dtype=torch.bool)
    mask[0, 0] = True
    mean, _ = visible_stats(patches, mask, GRID)
    image_wide = patches[0, ~mask[0]].mean()
    assert abs(mean[0, 0, 0] - patches[0, 0].mean()) < abs(image_wide - patches[0, 0].mean())
    # far from any visible patch (every patch but one masked), the softmax still finds the visible one
    mask = torch.ones(1, L, dtype=torch.bool)
    mask[0, L - 1] = True
    mask[0, 0] = False
    mean, var = visible_stats(patches, mask, GRID, sigma=0.1)
    torch.testing.assert_close(mean[0, L - 1], patches[0, 0].mean().view(1))
    assert torch.isfinite(var).all()


def test_no_visible_patch_falls_back_to_the_normalisation():
    patches = torch.randn(2, L, 4) + 3
    mask = torch.ones(2, L, dtype=torch.bool)
    pred = torch.randn(2, L, 4)
    out = unnormalize_prediction(pred, patches, mask, GRID, eps=0.0)
    torch.testing.assert_close(out, pred)
    with pytest.raises(ValueError, match="stats"):
        unnormalize_prediction(pred, patches, mask, GRID, stats="own")
