"""Speed of every masking strategy, as a ratio to MAE's random masking measured in the same run.

For B in {16, 64, 512, 4096} at L = 196 (a 14 x 14 grid: 224 px images, 16 px patches) it times random,
block, reference, independent (float32 and float16 bank) and online colour masking, on the CPU and, when
there is one, on CUDA (synchronised, after warm-up). Strategies are timed round-robin, several rounds
each, and the median per call is kept, so a busy machine slows them all alike. It then prints the bank
memory per storage mode (3072 x 256 x 256: 768 MiB float32, 384 MiB float16; online: none).

    python benchmarks/masking.py            # the official bank: 3072 patterns of 256 x 256
    python benchmarks/masking.py --quick    # smaller bank and fewer rounds, about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from colormae.masking import BlockMasking, ColorNoiseMasking, RandomMasking
from colormae.noise import generate_patterns

GRID = 14
BATCHES = (16, 64, 512, 4096)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_round_robin(calls: dict[str, Callable[[], object]], device: torch.device, *, rounds: int,
                     budget_s: float, clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median milliseconds per call of each callable, timed in interleaved rounds with ``clock``."""
    per_call = {}
    for name, fn in calls.items():  # warm up, and size each round to about budget_s / rounds
        fn()
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        per_call[name] = max(time.perf_counter() - start, 1e-6)
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, fn in calls.items():
            n = max(1, int(budget_s / rounds / len(calls) / per_call[name]))
            _sync(device)
            start = clock()
            for _ in range(n):
                fn()
            _sync(device)
            samples[name].append((clock() - start) / n * 1e3)
    return {name: statistics.median(values) for name, values in samples.items()}


def run(device: torch.device, bank: torch.Tensor, batches: tuple[int, ...], *, rounds: int, budget_s: float,
        clock: Callable[[], float]) -> None:
    """Print one table (ms of random, then ratios) for ``device``."""
    gen = torch.Generator(device=device).manual_seed(0)
    strategies = {
        "random": RandomMasking(0.75),
        "block": BlockMasking(0.75),
        "reference": ColorNoiseMasking(bank, 0.75, mode="reference"),
        "indep-f32": ColorNoiseMasking(bank, 0.75, mode="independent"),
        "indep-f16": ColorNoiseMasking(bank, 0.75, mode="independent", bank_dtype="float16"),
        "online": ColorNoiseMasking("green", 0.75, mode="online"),
    }
    names = list(strategies)
    print(f"\n{device} ({torch.get_num_threads()} threads), grid {GRID}x{GRID}, bank {tuple(bank.shape)}; "
          "time per call as a ratio to random masking")
    print(f"{'B':>6} {'random ms':>10} " + " ".join(f"{n:>10}" for n in names[1:]))
    for b in batches:
        calls = {n: (lambda s=s, b=b: s(b, GRID, generator=gen, device=device))
                 for n, s in strategies.items()}
        ms = time_round_robin(calls, device, rounds=rounds, budget_s=budget_s,
                              clock=clock if device.type == "cpu" else time.perf_counter)
        ratios = " ".join(f"{ms[n] / ms['random']:>9.2f}x" for n in names[1:])
        print(f"{b:>6} {ms['random']:>10.3f} {ratios}", flush=True)
    for name in ("reference", "indep-f16"):
        strategies[name]._on_device.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 3072 x 32 x 32 bank, fewer rounds, B <= 512")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: the CPU, then CUDA when available")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="CPU timer: wall clock, or this process's CPU time (steadier on a busy machine; "
                             "use it with --threads 1, where CPU time is the work done)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    size = 32 if args.quick else 256
    batches = BATCHES[:3] if args.quick else BATCHES
    rounds, budget = (5, 1.0) if args.quick else (9, 4.0)
    bank = generate_patterns("green", 3072, size, seed=0, progress=True)

    devices = [torch.device("cpu")] if args.device != "cuda" else []
    if args.device != "cpu" and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    for device in devices:
        run(device, bank, batches, rounds=rounds, budget_s=budget,
            clock=time.process_time if args.clock == "cpu" else time.perf_counter)

    print("\nbank memory on the device, 3072 x 256 x 256 (the official bank):")
    for label, dtype in (("float32", "float32"), ("float16", "float16")):
        strategy = ColorNoiseMasking(torch.empty(3072, 256, 256, dtype=torch.float16), bank_dtype=dtype)
        print(f"  {label}: {strategy.bank_bytes() / 2**20:.0f} MiB")
    print(f"  online: {ColorNoiseMasking('green', mode='online').bank_bytes() / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
