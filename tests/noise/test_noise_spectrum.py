"""Spectral check of every colour, measured independently with numpy's FFT and radial bins."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from colormae.noise import COLORS, PatternBank, radial_power_spectrum

N, SIZE = 96, 64


def numpy_radial_power(patterns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean |fft2|^2 / (H W) over patterns and over rings of integer radius (in 1/SIZE cycles/pixel)."""
    n, h, w = patterns.shape
    power = (np.abs(np.fft.fft2(patterns.astype(np.float64))) ** 2).mean(0) / (h * w)
    ky, kx = np.meshgrid(np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w, indexing="ij")
    ring = np.rint(np.hypot(ky, kx)).astype(int)
    rings = np.arange(1, h // 2 + 1)
    return rings / h, np.array([power[ring == r].mean() for r in rings])


def scipy_transfer_power(color: str, sigmas: list[float]) -> np.ndarray:
    """Expected ring power: |T|^2 of the colour's filter, T = fft2 of scipy's response to an impulse."""
    impulse = np.zeros((SIZE, SIZE))
    impulse[0, 0] = 1.0
    powers = []
    for s in sigmas:
        if color in ("red", "blue"):
            low = ndimage.gaussian_filter(impulse, s, mode="wrap")
            kernel = low if color == "red" else impulse - low
        else:
            green = ndimage.gaussian_filter(impulse, 0.5, mode="wrap") - ndimage.gaussian_filter(
                impulse, 2.0, mode="wrap")
            kernel = green if color == "green" else impulse - green
        powers.append(np.abs(np.fft.fft2(kernel)) ** 2)
    return numpy_radial_power(np.ones((1, SIZE, SIZE)))[0], np.mean(powers, axis=0)


@pytest.fixture(scope="module")
def banks() -> dict[str, PatternBank]:
    return {c: PatternBank.generate(c, N, SIZE, seed=11) for c in COLORS}


@pytest.fixture(scope="module")
def spectra(banks) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {c: numpy_radial_power(b.patterns.numpy()) for c, b in banks.items()}


def band(spectrum, lo: float, hi: float) -> float:
    f, p = spectrum
    return float(p[(f >= lo) & (f < hi)].mean())


@pytest.mark.parametrize("color", COLORS)
def test_library_spectrum_equals_numpy(banks, spectra, color):
    freqs, power = radial_power_spectrum(banks[color].patterns)
    np.testing.assert_allclose(freqs.numpy(), spectra[color][0])
    np.testing.assert_allclose(power.numpy(), spectra[color][1], rtol=1e-5)


def test_rectangular_spectrum_of_white_noise_is_one():
    freqs, power = radial_power_spectrum(torch.randn(64, 32, 48, generator=torch.Generator().manual_seed(0)))
    assert freqs.shape == (16,) and freqs[0] == pytest.approx(1 / 32) and freqs[-1] == pytest.approx(0.5)
    assert torch.allclose(power, torch.ones(16, dtype=torch.float64), rtol=0.12)


@pytest.mark.parametrize("color", ["red", "blue", "green", "purple"])
def test_measured_spectrum_matches_the_filter(banks, spectra, color):
    sig = banks[color].sigmas["sigma"].tolist() if color in ("red", "blue") else [None]
    ky, kx = np.meshgrid(np.fft.fftfreq(SIZE) * SIZE, np.fft.fftfreq(SIZE) * SIZE, indexing="ij")
    ring = np.rint(np.hypot(ky, kx)).astype(int)
    expected_2d = scipy_transfer_power(color, sig)[1]
    expected = np.array([expected_2d[ring == r].mean() for r in range(1, SIZE // 2 + 1)])
    measured = spectra[color][1]
    floor = 1e-3 * expected.max()  # relative error is meaningless where a filter is ~zero
    keep = expected > floor
    np.testing.assert_allclose(measured[keep], expected[keep], rtol=0.25)


def test_red_power_falls_with_frequency(spectra):
    s = spectra["red"]
    assert band(s, 0, 0.1) > 3 * band(s, 0.1, 0.25) > 3 * band(s, 0.25, 0.51)
    assert np.all(np.diff(s[1][::4]) < 0)


def test_blue_power_rises_with_frequency(spectra):
    s = spectra["blue"]
    assert band(s, 0, 0.1) * 3 < band(s, 0.1, 0.25) < band(s, 0.25, 0.51)
    assert np.all(np.diff(s[1][::4]) > 0)


def test_green_peaks_at_mid_frequency_low_at_both_ends(spectra):
    f, p = spectra["green"]
    peak = p.max()
    assert 0.12 < f[p.argmax()] < 0.32
    assert p[0] < 0.05 * peak  # the lowest ring: almost nothing
    assert p[-1] < 0.8 * peak  # Nyquist: clearly below the peak


def test_purple_dips_at_mid_frequency(spectra):
    f, p = spectra["purple"]
    dip = p.min()
    assert 0.12 < f[p.argmin()] < 0.32
    assert p[0] > 10 * dip and p[-1] > 2 * dip


@pytest.mark.parametrize(("color", "variance"), [("white", 1.0), ("uniform", 1 / 12)])
def test_white_and_uniform_are_flat(spectra, color, variance):
    p = spectra[color][1]
    np.testing.assert_allclose(p, variance, rtol=0.15)
    assert band(spectra[color], 0, 0.1) == pytest.approx(band(spectra[color], 0.25, 0.51), rel=0.1)
