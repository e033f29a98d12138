"""``colormae demo``: a small ColorMAE-G pretrained on built-in digits in minutes on a CPU,
with its loss curve and reconstructions written to ``--out``. Running it again in the same folder
reuses (or finishes) the earlier pretraining.
"""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Pretrain a small ColorMAE-G (ViT-Tiny, 32 px images, green-noise masks) on the built-in MNIST digits in
a few minutes on a CPU, then write its loss curve and reconstructions to --out and print where they are.
Running it again in the same folder reuses (or finishes) the earlier pretraining.
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae demo``."""
    parser = sub.add_parser("demo", help="pretrain a small ColorMAE-G on built-in data and draw the results",
                            description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/demo", metavar="DIR",
                        help="output folder (default: runs/demo)")
    parser.add_argument("--quick", action="store_true", help="a few training steps only (smoke test)")
    parser.add_argument("--device", default=None, help="cpu, cuda or auto (default)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo steps."""
    from colormae.experiments.demo import run_demo

    run_demo(args.out, quick=args.quick, device=args.device)
    return 0
