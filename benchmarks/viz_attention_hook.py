"""Cost of reading [CLS] attention through the hook (fused forward + recomputed last-layer softmax).

Baseline: a plain ``forward_features`` of the same encoder (fused attention, no hook), measured in the
same process. Also shown: the alternative of switching every block to timm's non-fused path.

    python benchmarks/viz_attention_hook.py [--model mae_vit_base_patch16] [--batch 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from colormae.models import create_mae
from colormae.viz.attention import last_layer_attention


def best_of(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls, in seconds (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mae_vit_small_patch16")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    mae = create_mae(args.model).to(args.device).eval()
    size = mae.config.img_size
    images = torch.randn(args.batch, 3, size, size, device=args.device)
    unfused = copy.deepcopy(mae)
    for blk in unfused.encoder.blocks:
        blk.attn.fused_attn = False

    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    def plain():
        with torch.no_grad():
            mae.forward_features(images)
        sync()

    def hooked():
        last_layer_attention(mae, images)
        sync()

    def non_fused():
        with torch.no_grad():
            unfused.forward_features(images)
        sync()

    base = best_of(plain, args.repeats)
    print(f"{args.model}, batch {args.batch}, {args.device}: plain forward {base * 1e3:.1f} ms")
    for name, fn in (("hook + recomputed softmax", hooked), ("all blocks non-fused", non_fused)):
        t = best_of(fn, args.repeats)
        print(f"  {name:28s} {t * 1e3:8.1f} ms  ratio {t / base:.2f}x")


if __name__ == "__main__":
    main()
