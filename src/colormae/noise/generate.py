"""Sampling banks of colour-noise patterns, vectorized over the batch, on any device.

Colours (ColorMAE supplement, Sec. 1; filters in :mod:`colormae.noise.filters`):

- ``white``: N(0, 1) noise, drawn in the pixel domain with ``torch.randn``.
- ``uniform``: U[0, 1) noise (``torch.rand``), the noise of MAE's random masking.
- ``red`` / ``blue``: ``G_s * W`` / ``W - G_s * W`` with one ``s ~ U[0.5, 2.0]`` drawn per pattern.
- ``green`` / ``purple``: ``G_0.5 * W - G_2.0 * W`` / ``W - green``.

σ options (keyword arguments ``**sigmas``; ``None`` means the default):

- red, blue: ``sigma=s`` (one σ for every pattern) *or* ``sigma_range=(lo, hi)`` (σ ~ U[lo, hi] per
  pattern; default ``(0.5, 2.0)``, the paper's).
- green, purple: ``sigma1`` (default 0.5) and ``sigma2`` (default 2.0), the stds of the two Gaussians.
- white, uniform: none.

Any other keyword raises :class:`~colormae.errors.UserError`.

How filtered colours are drawn (chosen by measurement, see ``benchmarks/patterns.py``): instead of
``irfft2(H * rfft2(randn))`` (two transforms per pattern), the generator draws complex white noise
``S`` straight in the frequency domain and takes one complex inverse FFT (unitary, ``norm="ortho"``) for
*two* patterns: the real and the imaginary parts of ``ifft2(S)`` are two independent N(0, 1) white images
``W1``, ``W2``, and ``ifft2(H * S)`` holds ``G * W1`` and ``G * W2`` in its real and imaginary parts
because ``H`` is real and even. Each pattern is therefore *exactly* the periodic filter of a pixel-domain
N(0, 1) white image (``W1 = Re ifft2(S)``). Where the two patterns of a pair have different σ's
(red / blue), the spectrum is ``S (H1 + H2) / 2 + conj(S(-k)) (H1 - H2) / 2``, which filters ``W1`` by
``H1`` and ``W2`` by ``H2``; torch's complex inverse FFT is also faster here than its real one.
On the CPU the inverse FFT runs in place through ``scipy.fft`` (pocketfft), never slower than torch's MKL
transform and much faster on AMD CPUs, where MKL picks slow code paths; results agree to float rounding.
Other devices use ``torch.fft``. Also on the CPU, the next chunk's noise is drawn in a worker thread
while the current one is filtered (torch's normal sampler is single-threaded). The measurements are in
``docs/results.md`` (Measurements behind the implementation).

Determinism: the same seed (or an equally seeded generator) on the same device gives the same patterns;
σ's are drawn first (all ``count`` of them), then the noise chunk by chunk, with a chunk size that depends
on the pattern size only. Chunks keep temporaries near 256 MiB whatever ``count`` is.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import scipy.fft
import torch

from colormae.errors import UserError
from colormae.noise.colors import COLORS, SIGMA1, SIGMA2, SIGMA_RANGE
from colormae.noise.filters import color_transfer
from colormae.progress import progress as progress_bar

#: Complex pixels per chunk: 2**23 complex64 values = 64 MiB per spectrum buffer.
CHUNK_PIXELS = 1 << 23

_SIGMA_OPTIONS = {
    "white": (), "uniform": (),
    "red": ("sigma", "sigma_range"), "blue": ("sigma", "sigma_range"),
    "green": ("sigma1", "sigma2"), "purple": ("sigma1", "sigma2"),
}


def parse_size(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``(H, W)`` from an int (square) or a pair; raises UserError unless both are positive ints."""
    if isinstance(size, int) and not isinstance(size, bool):
        h = w = size
    elif isinstance(size, (tuple, list)) and len(size) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in size):
        h, w = size
    else:
        raise UserError(f"pattern size must be an int or (H, W), got {size!r}")
    if h < 1 or w < 1:
        raise UserError(f"pattern size must be positive, got {h}x{w}")
    return int(h), int(w)


def _positive(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise UserError(f"{name} must be a positive number, got {value!r}")
    return v


def resolve_sigmas(color: str, sigmas: Mapping[str, Any]) -> dict[str, Any]:
    """Check the σ options of ``color`` and fill in defaults.

    Returns:
        ``{}`` for white / uniform; ``{"sigma_range": (lo, hi)}`` for red / blue (``lo == hi`` when a
        single ``sigma`` was given); ``{"sigma1": s1, "sigma2": s2}`` for green / purple.
    """
    if color not in COLORS:
        raise UserError(f"unknown noise colour {color!r}; choose one of {', '.join(COLORS)}")
    allowed = _SIGMA_OPTIONS[color]
    given = {k: v for k, v in sigmas.items() if v is not None}
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        accepted = ", ".join(allowed) if allowed else "none"
        raise UserError(f"unknown σ option {unknown[0]!r} for {color} noise (accepted: {accepted})")
    if color in ("red", "blue"):
        if "sigma" in given and "sigma_range" in given:
            raise UserError(f"give {color} noise either sigma or sigma_range, not both")
        if "sigma" in given:
            s = _positive("sigma", given["sigma"])
            return {"sigma_range": (s, s)}
        rng = given.get("sigma_range", SIGMA_RANGE)
        if not isinstance(rng, (tuple, list)) or len(rng) != 2:
            raise UserError(f"sigma_range must be a pair (lo, hi), got {rng!r}")
        lo, hi = _positive("sigma_range low", rng[0]), _positive("sigma_range high", rng[1])
        if lo > hi:
            raise UserError(f"sigma_range must have lo <= hi, got ({lo}, {hi})")
        return {"sigma_range": (lo, hi)}
    if color in ("green", "purple"):
        return {"sigma1": _positive("sigma1", given.get("sigma1", SIGMA1)),
                "sigma2": _positive("sigma2", given.get("sigma2", SIGMA2))}
    return {}


def _resolve_generator(seed: int | None, generator: torch.Generator | None,
                       device: torch.device | str | None) -> tuple[torch.Generator | None, torch.device]:
    """The generator and device to draw with; the CPU unless ``device`` or ``generator`` says otherwise."""
    if seed is not None and generator is not None:
        raise UserError("give either seed= or generator=, not both")
    if device is not None:
        dev = torch.device(device)
    elif generator is not None:
        dev = torch.device(generator.device)
    else:
        dev = torch.device("cpu")
    if generator is not None and torch.device(generator.device).type != dev.type:
        raise ValueError(f"generator on {generator.device} cannot draw on {dev}")
    if seed is not None:
        generator = torch.Generator(device=dev).manual_seed(int(seed))
    return generator, dev


def generate_patterns(color: str, count: int, size: int | tuple[int, int], *, seed: int | None = None,
                      generator: torch.Generator | None = None, device: torch.device | str | None = None,
                      dtype: torch.dtype = torch.float32, progress: bool = False,
                      **sigmas: Any) -> torch.Tensor:
    """Draw ``count`` noise patterns of one colour.

    Args:
        color: one of :data:`COLORS`.
        count: number of patterns N >= 1.
        size: ``H`` (square) or ``(H, W)`` in pixels.
        seed: seed of a fresh generator on ``device``; or pass ``generator`` (not both; neither: torch's
            default generator of that device).
        device: where to draw and filter; default the generator's device, else the CPU.
        dtype: floating dtype of the result (computation is float32, or float64 for float64).
        progress: show a progress bar over chunks.
        **sigmas: σ options, see the module docstring.

    Returns:
        ``(N, H, W)`` patterns on ``device``.
    """
    return sample_patterns(color, count, size, seed=seed, generator=generator, device=device, dtype=dtype,
                           progress=progress, **sigmas)[0]


def _output_bank(count: int, size: int | tuple[int, int], dtype: torch.dtype, seed: int | None,
                 generator: torch.Generator | None, device: torch.device | str | None,
                 ) -> tuple[torch.Tensor, torch.Generator | None, torch.device, torch.dtype]:
    """Check a bank request and allocate it: ``(out (N, H, W) empty, generator, device, compute dtype)``
    (float64 for a float64 bank, else float32); one-line errors for a bad count or a non-float dtype."""
    h, w = parse_size(size)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise UserError(f"pattern count must be a positive int, got {count!r}")
    if not dtype.is_floating_point:
        raise UserError(f"patterns must have a floating dtype, got {dtype}")
    generator, dev = _resolve_generator(seed, generator, device)
    compute = torch.float64 if dtype == torch.float64 else torch.float32
    return torch.empty((count, h, w), dtype=dtype, device=dev), generator, dev, compute


def sample_patterns(color: str, count: int, size: int | tuple[int, int], *, seed: int | None = None,
                    generator: torch.Generator | None = None, device: torch.device | str | None = None,
                    dtype: torch.dtype = torch.float32, progress: bool = False,
                    **sigmas: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """:func:`generate_patterns` that also returns the σ metadata of the bank.

    Returns:
        ``(patterns (N, H, W), sigmas)``; ``sigmas`` is :func:`resolve_sigmas`'s dict plus, for red / blue,
        ``"sigma"``: the float64 CPU tensor ``(N,)`` of the σ each pattern was filtered with.
    """
    params = resolve_sigmas(color, sigmas)
    out, generator, dev, compute = _output_bank(count, size, dtype, seed, generator, device)
    h, w = out.shape[1:]
    meta: dict[str, Any] = dict(params)

    per_pattern = None
    if color in ("red", "blue"):
        lo, hi = params["sigma_range"]
        per_pattern = torch.rand(count, generator=generator, device=dev, dtype=torch.float64) * (hi - lo) + lo
        meta["sigma"] = per_pattern.cpu()
    chunk = max(2, 2 * CHUNK_PIXELS // (h * w))
    if per_pattern is not None:
        chunk = max(2, chunk // 2)  # per-pattern transfer functions and the mirrored spectrum cost more
    starts = range(0, count, chunk)
    with progress_bar(total=count, unit="pattern", desc=f"{color} noise", enabled=progress) as bar:
        if color in ("white", "uniform"):
            draw = torch.randn if color == "white" else torch.rand
            for start in starts:
                target = out[start:start + chunk]
                if dtype == compute:
                    draw(target.shape, generator=generator, device=dev, dtype=compute, out=target)
                else:
                    target.copy_(draw(target.shape, generator=generator, device=dev, dtype=compute))
                bar.update(len(target))
            return out, meta
        shared = None
        if color in ("green", "purple"):
            shared = _shared_transfer(color, (h, w), params["sigma1"], params["sigma2"], dev, compute)
        _filter_into(out, chunk, generator, shared, per_pattern, color, bar)
    return out, meta


def _filter_into(out: torch.Tensor, chunk: int, generator: torch.Generator | None,
                 shared: torch.Tensor | None, per_pattern: torch.Tensor | None, color: str | None,
                 bar: Any) -> None:
    """Fill ``out (N, H, W)`` with white noise filtered by ``shared`` (``(1, H, W)``) or, per pattern, by
    ``color``'s transfer at the σ's ``per_pattern (N,)``; ``chunk`` patterns at a time, in draw order."""
    count, h, w = out.shape
    dev = out.device
    compute = torch.float64 if out.dtype == torch.float64 else torch.float32
    starts = range(0, count, chunk)
    in_place = dev.type == "cpu"
    scratch = None if in_place else torch.empty(((min(chunk, count) + 1) // 2, h, w),
                                                 dtype=_COMPLEX[compute], device=dev)
    slots = [(min(chunk, count - start) + 1) // 2 for start in starts]
    spectra = _white_spectra(slots, (h, w), generator, dev, compute, background=dev.type == "cpu")
    for start, spectrum in zip(starts, spectra, strict=True):
        target = out[start:start + chunk]
        transfer = shared
        if per_pattern is not None:
            transfer = color_transfer(color, (h, w), sigma=per_pattern[start:start + chunk], device=dev,
                                      dtype=compute)
        _filter_pairs(target, spectrum, transfer, scratch)
        bar.update(len(target))


def sample_filter(noise: Any, count: int, size: int | tuple[int, int], *, seed: int | None = None,
                  generator: torch.Generator | None = None, device: torch.device | str | None = None,
                  dtype: torch.dtype = torch.float32, progress: bool = False
                  ) -> tuple[torch.Tensor, dict[str, Any]]:
    """Draw ``count`` patterns of any noise family: a :class:`~colormae.noise.spec.NoiseFilter` or a spec
    string (``"powerlaw:beta=2"``, ``"green"``, ...).

    White, uniform and the Gaussian families are drawn by :func:`sample_patterns` with the colour and σ's
    they equal (so ``"green"`` gives today's green bank, bit for bit); every other family filters the same
    complex white spectra with its radial transfer function (one ``(1, H, W)`` transfer, cached).

    Returns:
        ``(patterns (N, H, W), meta)``: :func:`sample_patterns`'s σ metadata, plus ``"filter"``: the
        canonical spec.
    """
    from colormae.noise.spec import parse_filter

    filt = parse_filter(noise)
    if filt.color is not None:
        out, meta = sample_patterns(filt.color, count, size, seed=seed, generator=generator, device=device,
                                    dtype=dtype, progress=progress, **filt.sigmas)
        return out, {**meta, "filter": filt.spec}
    out, generator, dev, compute = _output_bank(count, size, dtype, seed, generator, device)
    h, w = out.shape[1:]
    shared = _filter_transfer(filt, (h, w), dev, compute)
    with progress_bar(total=count, unit="pattern", desc=f"{filt.name} noise", enabled=progress) as bar:
        _filter_into(out, max(2, 2 * CHUNK_PIXELS // (h * w)), generator, shared, None, None, bar)
    return out, {"filter": filt.spec}


@functools.lru_cache(maxsize=16)
def _filter_transfer(filt: Any, shape: tuple[int, int], device: torch.device, dtype: torch.dtype
                     ) -> torch.Tensor:
    """A radial filter's ``(1, H, W)`` transfer, cached (online masks ask for the same one every step)."""
    return filt.transfer(shape, device=device, dtype=dtype)


_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


@functools.lru_cache(maxsize=16)
def _shared_transfer(color: str, shape: tuple[int, int], sigma1: float, sigma2: float, device: torch.device,
                     dtype: torch.dtype) -> torch.Tensor:
    """Green / purple transfer ``(1, H, W)``, cached: online masking asks for the same one every step.

    Callers must not modify it in place.
    """
    return color_transfer(color, shape, sigma1=sigma1, sigma2=sigma2, device=device, dtype=dtype)


def _white_spectra(slots: list[int], shape: tuple[int, int], generator: torch.Generator | None,
                   device: torch.device, dtype: torch.dtype, *, background: bool) -> Iterator[torch.Tensor]:
    """Complex white spectra ``(slots[k], H, W)``, real and imaginary parts N(0, 1), drawn in order.

    Buffers are reused across chunks (fresh 64 MiB blocks cost page faults comparable to the FFT); a
    yielded spectrum is valid until the next one is requested. With ``background``, the next chunk is drawn
    in a worker thread while the caller filters the current one: torch's CPU normal sampler runs on one
    core, so the FFT gets the other one meanwhile. Only that thread touches ``generator`` meanwhile, and
    the draws keep their order, so the result does not depend on ``background``.
    """
    h, w = shape
    buffers = [torch.empty((max(slots), h, w, 2), dtype=dtype, device=device)
               for _ in range(2 if background else 1)]

    def draw(k: int) -> torch.Tensor:
        noise = buffers[k % len(buffers)][: slots[k]]
        torch.randn(noise.shape, generator=generator, device=device, dtype=dtype, out=noise)
        return torch.view_as_complex(noise)

    if not background or len(slots) == 1:
        for k in range(len(slots)):
            yield draw(k)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="colormae-noise") as pool:
        pending = pool.submit(draw, 0)
        for k in range(len(slots)):
            current = pending.result()
            if k + 1 < len(slots):
                pending = pool.submit(draw, k + 1)  # into the other buffer, which the caller is done with
            yield current


def _filter_pairs(target: torch.Tensor, spectrum: torch.Tensor, transfer: torch.Tensor,
                  scratch: torch.Tensor | None) -> None:
    """Fill ``target (b, H, W)`` from the white ``spectrum (p, H, W)``, ``p = ceil(b / 2)``, overwriting it.

    ``transfer`` is ``(1, H, W)`` (shared) or ``(b, H, W)`` (per pattern) on the full ``fft2`` grid.
    Pattern ``j < p`` is the real part of slot ``j``, pattern ``p + j`` its imaginary part. ``scratch``:
    complex ``(>= p, H, W)`` output space of the inverse FFT, or None to transform in place (CPU, scipy).
    """
    b = target.shape[0]
    p = spectrum.shape[0]
    pair = scratch[:p] if scratch is not None else None
    if transfer.shape[0] == 1:
        spectrum.mul_(transfer)
    else:
        t_re = transfer[:p]
        t_im = transfer[p:]
        if t_im.shape[0] < p:  # odd b: the last slot's imaginary part is discarded
            t_im = torch.cat([t_im, t_re[-1:]])
        # conj(S(-k)): frequency index k -> (-k) mod n along both axes.
        mirrored = torch.roll(torch.flip(spectrum, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1))
        mirrored.conj_physical_()
        mean = (t_re + t_im).mul_(0.5)
        half_diff = t_re.sub_(t_im).mul_(0.5)
        spectrum.mul_(mean).add_(mirrored.mul_(half_diff))
    pair = _unitary_ifft2(spectrum, pair)
    target[:p].copy_(pair.real)
    target[p:].copy_(pair.imag[: b - p])


def _unitary_ifft2(spectrum: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
    """``ifft2(spectrum, norm="ortho")`` of ``(p, H, W)`` complex; in place via scipy when ``out`` is None."""
    if out is None:
        result = scipy.fft.ifft2(spectrum.numpy(), norm="ortho", overwrite_x=True,
                                  workers=torch.get_num_threads())
        return torch.from_numpy(result)
    return torch.fft.ifft2(spectrum, norm="ortho", out=out)
