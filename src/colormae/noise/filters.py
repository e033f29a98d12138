"""Frequency responses of the colour-noise filters (ColorMAE supplement, Sec. 1).

With ``W`` a white-noise image and ``G_s`` a Gaussian low-pass of standard deviation ``s`` pixels:

- red    ``G_s * W``                     (low-pass)
- blue   ``W - G_s * W``                 (high-pass)
- green  ``G_s1 * W - G_s2 * W``         (band-pass; the paper uses s1 = 0.5, s2 = 2.0)
- purple ``W - (G_s1 * W - G_s2 * W)``   (band-stop)

Every colour is a linear, shift-invariant filter of ``W``, so it is a product with a transfer function
in the frequency domain.

Boundary handling: **periodic**. Patterns are filtered on the torus (FFT convolution), so a pattern wraps
around seamlessly and every crop of it has the same statistics; no edge is special. The transfer function
used is the DFT of the *sampled, normalised, truncated* Gaussian kernel that
``scipy.ndimage.gaussian_filter`` uses (weights ``exp(-x^2 / 2 s^2)`` for ``|x| <= int(4 s + 0.5)``,
divided by their sum), wrapped onto the pattern's period. Hence a pattern equals
``scipy.ndimage.gaussian_filter(W, s, mode="wrap")`` exactly (to float rounding) and agrees with scipy's
default ``mode="reflect"`` everywhere further than the kernel radius from the border. The textbook
continuous response ``exp(-2 pi^2 s^2 f^2)`` is *not* used: at s = 0.5 the sampled kernel passes 0.57 of
the Nyquist frequency on an axis, the continuous Gaussian only 0.29.

The Gaussian is separable, so the 2-D response is the outer product of two 1-D responses.

Radial families (:func:`radial_transfer`): a gain ``g(f)`` of the radial frequency ``f`` in cycles per
pixel, sampled on the same periodic grid: power-law ``1 / f^beta`` (:func:`powerlaw_gain`), an ideal or
smooth annulus (:func:`ring_gain`), a table of points (:func:`table_gain`) or any callable. Which family a
spec string names, and its parameters, is :mod:`colormae.noise.spec`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

#: Kernel half-width in standard deviations, as ``scipy.ndimage.gaussian_filter(truncate=4.0)``.
TRUNCATE = 4.0


def kernel_radius(sigma: float, truncate: float = TRUNCATE) -> int:
    """Half-width in pixels of the sampled Gaussian kernel of std ``sigma`` (scipy's rule)."""
    return int(truncate * float(sigma) + 0.5)


def gaussian_response(sigmas: torch.Tensor, n: int, *, truncate: float = TRUNCATE) -> torch.Tensor:
    """1-D transfer function of the sampled Gaussian kernel on a period of ``n`` samples.

    Args:
        sigmas: ``(B,)`` standard deviations in pixels, > 0 (float64 recommended).
        n: period (pattern side length) in pixels.

    Returns:
        ``(B, n)`` real responses at DFT frequencies ``k = 0..n-1`` (cycles ``k / n`` per pixel), in the
        dtype and on the device of ``sigmas``. ``response[b, 0] == 1`` (the kernel sums to one).
    """
    sigmas = sigmas.reshape(-1)
    radii = torch.floor(truncate * sigmas + 0.5)  # (B,) int(4 s + 0.5), per pattern
    r_max = int(radii.max().item()) if sigmas.numel() else 0
    x = torch.arange(-r_max, r_max + 1, device=sigmas.device, dtype=sigmas.dtype)  # (K,)
    weights = torch.exp(-0.5 * (x[None, :] / sigmas[:, None]) ** 2)  # (B, K)
    weights = weights * (x[None, :].abs() <= radii[:, None])
    weights = weights / weights.sum(dim=1, keepdim=True)
    # The kernel is even, so its DFT is real: sum_x w(x) cos(2 pi k x / n). Taps beyond the period alias
    # onto it automatically, which is what circular convolution with a long kernel does.
    k = torch.arange(n, device=sigmas.device, dtype=sigmas.dtype)
    phase = (2.0 * math.pi / n) * torch.outer(x, k)  # (K, n)
    return weights @ torch.cos(phase)


def gaussian_transfer(sigmas: torch.Tensor, shape: tuple[int, int], *,
                      dtype: torch.dtype | None = None) -> torch.Tensor:
    """2-D transfer function of ``G_s`` for each ``s``: ``(B, H, W)`` over the full ``fft2`` grid.

    The 1-D responses are computed in the dtype of ``sigmas``; their outer product in ``dtype`` (default:
    the same), so a float32 result costs no float64 temporary of the full size.
    """
    h, w = shape
    dtype = dtype or sigmas.dtype
    rows = gaussian_response(sigmas, h).to(dtype)
    cols = gaussian_response(sigmas, w).to(dtype)
    return rows[:, :, None] * cols[:, None, :]


def color_transfer(color: str, shape: tuple[int, int], *, sigma: torch.Tensor | None = None,
                   sigma1: float | None = None, sigma2: float | None = None,
                   device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Transfer function of a filtered colour on the full ``fft2`` grid of a ``(H, W)`` pattern.

    Args:
        color: ``"red"``, ``"blue"`` (need ``sigma``: ``(B,)`` per-pattern stds) or ``"green"``,
            ``"purple"`` (need ``sigma1``, ``sigma2``).
        shape: ``(H, W)`` of a pattern.

    Returns:
        ``(B, H, W)`` for red / blue, ``(1, H, W)`` for green / purple; real, in ``dtype``.
    """
    if color in ("red", "blue"):
        if sigma is None:
            raise ValueError(f"{color} noise needs per-pattern sigma")
        sig = torch.as_tensor(sigma, device=device, dtype=torch.float64)
        low = gaussian_transfer(sig, shape, dtype=dtype)
        return low if color == "red" else low.neg_().add_(1.0)
    if color in ("green", "purple"):
        if sigma1 is None or sigma2 is None:
            raise ValueError(f"{color} noise needs sigma1 and sigma2")
        pair = torch.tensor([sigma1, sigma2], device=device, dtype=torch.float64)
        g1, g2 = gaussian_transfer(pair, shape)  # float64 difference, then cast
        band = (g1 - g2)[None]
        band = band if color == "green" else 1.0 - band
        return band.to(dtype)
    raise ValueError(f"no transfer function for {color!r} noise")


def apply_transfer(images: torch.Tensor, transfer: torch.Tensor) -> torch.Tensor:
    """Filter real images periodically: ``irfft2(transfer * rfft2(images))``.

    Args:
        images: ``(N, H, W)`` real.
        transfer: ``(N, H, W)`` or ``(1, H, W)`` real transfer function on the full ``fft2`` grid (as
            :func:`color_transfer` returns); only its non-negative-``kx`` half is read.

    Returns:
        ``(N, H, W)`` filtered images in the dtype of ``images`` (float32 computes in float32).
    """
    h, w = images.shape[-2:]
    spectrum = torch.fft.rfft2(images)
    half = transfer[..., : w // 2 + 1].to(device=images.device, dtype=spectrum.real.dtype)
    return torch.fft.irfft2(spectrum * half, s=(h, w))


# -- radial families: a gain as a function of the radial frequency f = |(fy, fx)| in cycles per pixel ---
def radial_frequency(shape: tuple[int, int], *, device: torch.device | str | None = None,
                     dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``(H, W)`` radial frequency ``sqrt(fy^2 + fx^2)`` (cycles / pixel) of every bin of the ``fft2`` grid.

    Even in ``k -> -k`` (``fftfreq``'s ``-0.5`` at ``n / 2`` has the same magnitude as ``+0.5``), so a gain of
    it is a real, even transfer function: the filtered noise is real.
    """
    h, w = shape
    fy = torch.fft.fftfreq(h, device=device, dtype=dtype)
    fx = torch.fft.fftfreq(w, device=device, dtype=dtype)
    return torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)


def powerlaw_gain(f: torch.Tensor, beta: float) -> torch.Tensor:
    """Amplitude ``f^(-beta / 2)``, so the power is ``1 / f^beta`` (pink 1, brown 2, blue -1, violet -2).

    The DC gain is 0 (``1 / 0^beta`` has no value for beta > 0; the mean is not noise colour).
    """
    safe = torch.where(f > 0, f, torch.ones_like(f))
    return torch.where(f > 0, safe.pow(-0.5 * float(beta)), torch.zeros_like(f))


def ring_gain(f: torch.Tensor, f0: float, width: float, *, smooth: bool = False) -> torch.Tensor:
    """An annulus around ``f0`` cycles / pixel: ideal (gain 1 where ``|f - f0| <= width / 2``, else 0) or
    smooth (Gaussian ``exp(-(f - f0)^2 / (2 width^2))``, ``width`` its standard deviation)."""
    if smooth:
        return torch.exp(-0.5 * ((f - f0) / width) ** 2)
    return ((f - f0).abs() <= 0.5 * width).to(f.dtype)


def table_gain(f: torch.Tensor, freqs: tuple[float, ...], gains: tuple[float, ...]) -> torch.Tensor:
    """Gain interpolated linearly between ``(freqs[i], gains[i])`` points, constant beyond the ends
    (``numpy.interp``)."""
    import numpy as np

    values = np.interp(f.detach().cpu().numpy(), np.asarray(freqs), np.asarray(gains))
    return torch.from_numpy(values).to(device=f.device, dtype=f.dtype)


def radial_transfer(gain: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, int], *,
                    device: torch.device | str | None = None, dtype: torch.dtype = torch.float64,
                    normalize: bool = True) -> torch.Tensor:
    """``(1, H, W)`` transfer function ``gain(f)`` on the full ``fft2`` grid of a ``(H, W)`` pattern.

    Args:
        gain: maps radial frequencies ``(H, W)`` float64 (cycles / pixel, 0 .. ~0.71) to real gains of the
            same shape.
        normalize: scale so the mean of ``T^2`` over the grid is 1: filtered N(0, 1) white noise then has
            variance 1 whatever the gain's scale (masks depend only on the order of values).
    """
    f = radial_frequency(shape, device=device)
    t = torch.as_tensor(gain(f), dtype=torch.float64, device=f.device)
    if t.shape != f.shape or not bool(torch.isfinite(t).all()):
        raise ValueError(f"a radial gain must map frequencies {tuple(f.shape)} to finite gains of that shape")
    if normalize:
        power = (t * t).mean()
        if power <= 0:
            raise ValueError("the radial gain is zero at every frequency of this pattern size")
        t = t / power.sqrt()
    return t[None].to(dtype)
