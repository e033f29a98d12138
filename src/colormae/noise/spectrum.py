"""Radially averaged power spectrum of a bank of patterns: the check of a noise colour.

For patterns ``x`` of ``H x W`` pixels, the power at DFT frequency ``k`` is ``|fft2(x)[k]|^2 / (H W)``
(N(0, 1) white noise has power 1 everywhere; a periodic filter with transfer function ``T`` multiplies it
by ``T^2``). Frequencies are in cycles per pixel, ``f = sqrt((ky / H)^2 + (kx / W)^2)``, and are grouped in
rings of width ``1 / min(H, W)``: ring ``r`` holds the bins with ``round(f * min(H, W)) == r``. Rings
``1 .. min(H, W) // 2`` are returned (``f`` from ``1 / min(H, W)`` up to 0.5); the DC ring is left out (the
mean is not noise colour, and 0 has no place on the log-log axes this is drawn on).
"""

from __future__ import annotations

import torch

#: Patterns transformed at once; bounds the temporaries at ~64 MiB for 256 x 256 patterns.
CHUNK_PIXELS = 1 << 24


def radial_power_spectrum(patterns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean power of ``patterns`` in rings of frequency.

    Args:
        patterns: ``(N, H, W)`` real, on any device; ``min(H, W) >= 2``.

    Returns:
        ``(freqs (F,), power (F,))`` float64 on the CPU, ``F = min(H, W) // 2``: ring centre in cycles per
        pixel and the power averaged over the ring's bins and over the N patterns.
    """
    if patterns.dim() != 3:
        raise ValueError(f"expected patterns (N, H, W), got shape {tuple(patterns.shape)}")
    n, h, w = patterns.shape
    if min(h, w) < 2:
        raise ValueError(f"patterns of {h}x{w} have no non-zero frequency ring")
    wr = w // 2 + 1
    total = torch.zeros(h, wr, device=patterns.device, dtype=torch.float64)
    chunk = max(1, CHUNK_PIXELS // (h * w))
    for start in range(0, n, chunk):
        block = patterns[start:start + chunk].to(torch.float32)
        total += (torch.fft.rfft2(block).abs() ** 2).sum(0, dtype=torch.float64)
    return _ring_means(total / (n * h * w), h, w)


def radial_average(power: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A power given on the full ``fft2`` grid, ``(H, W)`` (e.g. a filter's intended ``T^2``), averaged
    over the same rings as :func:`radial_power_spectrum`: ``(freqs (F,), power (F,))`` float64."""
    h, w = power.shape
    return _ring_means(power.to(torch.float64)[:, : w // 2 + 1], h, w)


def _ring_means(half: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Ring averages of a power ``(H, W // 2 + 1)`` on the ``rfft2`` half grid of ``H x W`` patterns."""
    m = min(h, w)
    dev = half.device
    # rfft2 keeps kx = 0 .. W//2; every other column stands for itself and its mirror, so counts twice.
    wr = w // 2 + 1
    col_weight = torch.full((wr,), 2.0, device=dev, dtype=torch.float64)
    col_weight[0] = 1.0
    if w % 2 == 0:
        col_weight[-1] = 1.0
    fy = torch.fft.fftfreq(h, device=dev, dtype=torch.float64)
    fx = torch.fft.rfftfreq(w, device=dev, dtype=torch.float64)
    radius = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)  # (H, Wr) cycles / pixel
    ring = torch.round(radius * m).long().flatten()
    weight = col_weight.expand(h, wr).flatten()
    count = torch.bincount(ring, weights=weight, minlength=m // 2 + 1)
    summed = torch.bincount(ring, weights=weight * half.flatten(), minlength=m // 2 + 1)
    rings = torch.arange(1, m // 2 + 1, device=dev)
    freqs = rings.to(torch.float64) / m
    return freqs.cpu(), (summed[rings] / count[rings]).cpu()
