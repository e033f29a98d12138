"""Speed of green-noise bank generation against its peers, all measured in this process.

Compares, for ``--count`` green patterns of ``--size`` pixels (paper: 3072 of 256 x 256):

- ``colormae``: :func:`colormae.noise.generate_patterns` (complex white spectrum, one inverse FFT per two
  patterns, chunked);
- ``scipy loop``: what an offline per-image generator does: draw one white image with numpy, then
  ``scipy.ndimage.gaussian_filter(w, 0.5) - scipy.ndimage.gaussian_filter(w, 2.0)``, image by image;
- ``randn floor``: ``torch.randn(count, H, W)`` alone, the white noise with no filtering at all.

Prints patterns/s of each and the two ratios (speed-up over the scipy loop; time relative to the floor).
Each timing is the best of ``--repeats``. Run: ``.venv/bin/python benchmarks/patterns.py [--count N]
[--size S] [--device cuda] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from scipy import ndimage

from colormae.noise import generate_patterns


def best_time(fn: Callable[[], object], repeats: int, device: torch.device) -> tuple[float, float]:
    """Smallest wall time of ``repeats`` calls of ``fn`` (synchronizing CUDA) and the process CPU time of
    that call (all threads; on a busy machine it shows the work done when the wall time is inflated)."""
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, (time.perf_counter() - start, time.process_time() - cpu))
        del result
    return best


def scipy_loop(count: int, size: int, seed: int = 0) -> np.ndarray:
    """Green patterns one image at a time with numpy noise and scipy.ndimage (float32 throughout)."""
    rng = np.random.default_rng(seed)
    out = np.empty((count, size, size), np.float32)
    for i in range(count):
        w = rng.standard_normal((size, size), dtype=np.float32)
        out[i] = ndimage.gaussian_filter(w, 0.5) - ndimage.gaussian_filter(w, 2.0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=3072, help="patterns (default: 3072)")
    parser.add_argument("--size", type=int, default=256, help="pattern side in pixels (default: 256)")
    parser.add_argument("--device", default="cpu", help="device of colormae and the floor (default: cpu)")
    parser.add_argument("--repeats", type=int, default=1, help="best of this many runs (default: 1)")
    args = parser.parse_args()
    device = torch.device(args.device)
    n, s = args.count, args.size
    generator = torch.Generator(device=device).manual_seed(0)

    generate_patterns("green", 8, s, seed=0, device=device)  # warm-up: FFT plans, allocator, CUDA context
    r = args.repeats
    t_ours = best_time(lambda: generate_patterns("green", n, s, seed=0, device=device), r, device)
    t_floor = best_time(lambda: torch.randn(n, s, s, generator=generator, device=device), r, device)
    t_scipy = best_time(lambda: scipy_loop(n, s), r, torch.device("cpu"))

    print(f"{n} green patterns of {s}x{s}; device {device}; torch threads {torch.get_num_threads()}; "
          f"best of {args.repeats}")
    for name, (t, cpu) in (("colormae", t_ours), ("scipy loop", t_scipy), ("randn floor", t_floor)):
        print(f"  {name:12s} {t:8.3f} s wall {cpu:8.3f} s cpu  {n / t:10.1f} patterns/s")
    print(f"speed-up over the per-image scipy loop: {t_scipy[0] / t_ours[0]:.2f}x  (must be >= 2.5)")
    print(f"time relative to torch.randn alone:     {t_ours[0] / t_floor[0]:.2f}x  (must be <= 2)")


if __name__ == "__main__":
    main()
