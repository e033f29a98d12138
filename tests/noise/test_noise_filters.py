"""Transfer functions: equal to scipy.ndimage.gaussian_filter's sampled kernel, periodic boundaries."""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from colormae.noise import apply_transfer, color_transfer, gaussian_response, gaussian_transfer
from colormae.noise.filters import kernel_radius


def scipy_color(images: np.ndarray, color: str, mode: str, **s) -> np.ndarray:
    """The supplement's definitions written with scipy.ndimage.gaussian_filter, one image at a time."""
    out = []
    for w in images:
        if color == "red":
            out.append(ndimage.gaussian_filter(w, s["sigma"], mode=mode))
        elif color == "blue":
            out.append(w - ndimage.gaussian_filter(w, s["sigma"], mode=mode))
        else:
            green = ndimage.gaussian_filter(w, s["sigma1"], mode=mode) - ndimage.gaussian_filter(
                w, s["sigma2"], mode=mode)
            out.append(green if color == "green" else w - green)
    return np.stack(out)


@pytest.mark.parametrize(("n", "sigma"), [(32, 0.5), (32, 1.3), (32, 2.0), (12, 2.0), (5, 2.0)])
def test_response_is_dft_of_scipy_kernel(n, sigma):
    impulse = np.zeros(n)
    impulse[0] = 1.0
    kernel = ndimage.gaussian_filter1d(impulse, sigma, mode="wrap")  # circular kernel, wrapped onto n
    expected = np.fft.fft(kernel).real
    got = gaussian_response(torch.tensor([sigma], dtype=torch.float64), n)[0].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert got[0] == pytest.approx(1.0)


def test_response_vectorized_over_sigmas_of_different_radii():
    sigmas = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    together = gaussian_response(sigmas, 20)
    for i, s in enumerate(sigmas):
        np.testing.assert_allclose(together[i].numpy(), gaussian_response(s[None], 20)[0].numpy(), atol=1e-14)
    assert [kernel_radius(float(s)) for s in sigmas] == [2, 4, 8]


def test_sampled_kernel_differs_from_textbook_gaussian_at_half_pixel():
    nyquist = gaussian_response(torch.tensor([0.5], dtype=torch.float64), 64)[0, 32].item()
    continuous = math.exp(-2 * math.pi**2 * 0.5**2 * 0.5**2)
    assert nyquist == pytest.approx(0.5742, abs=1e-4)
    assert continuous == pytest.approx(0.2912, abs=1e-4)


def test_transfer_is_separable_outer_product():
    t = gaussian_transfer(torch.tensor([1.5], dtype=torch.float64), (6, 10))[0]
    rows = gaussian_response(torch.tensor([1.5], dtype=torch.float64), 6)[0]
    cols = gaussian_response(torch.tensor([1.5], dtype=torch.float64), 10)[0]
    np.testing.assert_allclose(t.numpy(), np.outer(rows.numpy(), cols.numpy()))


CASES = [("red", {"sigma": 0.5}), ("red", {"sigma": 2.0}), ("blue", {"sigma": 1.2}),
         ("green", {"sigma1": 0.5, "sigma2": 2.0}), ("purple", {"sigma1": 0.5, "sigma2": 2.0})]


@pytest.mark.parametrize(("color", "s"), CASES)
def test_periodic_filter_equals_scipy_wrap_everywhere(color, s):
    images = torch.randn(3, 24, 40, generator=torch.Generator().manual_seed(1))
    kw = dict(s)
    if "sigma" in kw:
        kw["sigma"] = torch.full((3,), kw["sigma"], dtype=torch.float64)
    got = apply_transfer(images, color_transfer(color, (24, 40), **kw)).numpy()
    expected = scipy_color(images.double().numpy(), color, "wrap", **s)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize(("color", "s"), CASES)
def test_periodic_filter_equals_scipy_reflect_in_the_interior(color, s):
    images = torch.randn(2, 40, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    kw = dict(s)
    if "sigma" in kw:
        kw["sigma"] = torch.full((2,), kw["sigma"], dtype=torch.float64)
    got = apply_transfer(images, color_transfer(color, (40, 40), **kw)).numpy()
    expected = scipy_color(images.numpy(), color, "reflect", **s)
    r = kernel_radius(max(s.values()))
    np.testing.assert_allclose(got[:, r:-r, r:-r], expected[:, r:-r, r:-r], atol=1e-12)
    assert np.abs(got - expected).max() > 1e-3  # the borders do differ: wrap is not reflect


def test_per_pattern_transfer_uses_each_sigma():
    sig = torch.tensor([0.5, 2.0], dtype=torch.float64)
    t = color_transfer("blue", (8, 8), sigma=sig)
    assert t.shape == (2, 8, 8)
    np.testing.assert_allclose(t[1].numpy(), 1 - gaussian_transfer(sig[1:], (8, 8))[0].numpy())
    assert color_transfer("green", (8, 8), sigma1=0.5, sigma2=2.0).shape == (1, 8, 8)
