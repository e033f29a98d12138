"""``colormae knn``: weighted k-NN classification of frozen features (DINO protocol), Top-1 / Top-5.

Features are L2-normalised; each validation image takes the ``k`` most cosine-similar training images,
which vote for their class with weight ``exp(similarity / T)``. Under ``torchrun`` the feature pass is
split over the processes and gathered; results come from rank 0.
"""

from __future__ import annotations

import argparse

from colormae.commands.linprobe import EXAMPLES as _LINPROBE_EXAMPLES
from colormae.commands.linprobe import add_eval_args

EXAMPLES = """\
examples:
  colormae knn runs/demo --data mnist5k --out runs/demo/eval
  colormae knn random:mae_vit_tiny_32px --data mnist5k --k 20 --temperature 0.07
""" + _LINPROBE_EXAMPLES.split("\n\n", 1)[1]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae knn``."""
    parser = sub.add_parser("knn", help="weighted k-NN on frozen features (Top-1 / Top-5)",
                            description=__doc__, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    add_eval_args(parser)
    parser.add_argument("--k", type=int, default=20, help="neighbours that vote (default 20, as DINO)")
    parser.add_argument("--temperature", type=float, default=0.07,
                        help="vote weight exp(cosine / T) (default 0.07, as DINO)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Encode, classify, print and write the results."""
    from colormae.eval.probes import run_knn
    from colormae.train.distributed import cleanup_distributed, init_distributed

    info, device = init_distributed(args.device)
    try:
        res = run_knn(args.ckpt, args.data, k=args.k, temperature=args.temperature, feature=args.feature,
                      batch_size=args.batch_size, device=device, num_workers=args.workers, out=args.out,
                      seed=args.seed, cache_dir=args.cache_dir, progress=not args.no_progress)
    finally:
        cleanup_distributed()
    if info.is_main:
        where = f"; wrote {args.out}/knn.json" if args.out else ""
        print(f"k-NN (k={res['k']}, T={res['temperature']}, {res['feature']}) on {res['data']}: "
              f"top1 {res['top1']:.2f}  top5 {res['top5']:.2f}{where}")
    return 0
