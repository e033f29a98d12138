"""The demo's dense comparison (pretrained vs random init) run in turn against side by side, on CPU.

    python benchmarks/dense_arms.py                     # segmentation, 150 steps per arm
    python benchmarks/dense_arms.py --job detect --steps 60

Runs :func:`colormae.transfer.demo.demo_dense` twice in this process on the same settings: first with
the arms in turn (each with every idle core), then side by side (two processes, half the cores each, as
``colormae demo`` does), and prints both wall times and their ratio. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--job", choices=("segment", "detect"), default="segment")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--ckpt", default="random:mae_vit_tiny_32px", help="the 'pretrained' arm's encoder")
    args = p.parse_args()
    from colormae.train.arms import arm_threads
    from colormae.train.threads import available_cores
    from colormae.transfer.demo import demo_dense

    threads = arm_threads("cpu")
    if not threads:
        raise SystemExit("fewer than two cores: the arms would not run side by side")
    times = {}
    for parallel in (False, True):
        torch.set_num_threads(available_cores())
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            demo_dense(args.job, args.ckpt, Path(tmp), device="cpu", progress=False, parallel=parallel,
                       max_steps=args.steps, warmup_steps=2,
                       **({"figure": 0} if args.job == "segment" else {"figure_images": 0}))
            times[parallel] = time.perf_counter() - start
    print(f"{args.job}, {args.steps} steps per arm: in turn {times[False]:.1f} s "
          f"({available_cores()} threads), side by side {times[True]:.1f} s ({threads} thread(s) each); "
          f"ratio {times[False] / times[True]:.2f}")


if __name__ == "__main__":
    main()
