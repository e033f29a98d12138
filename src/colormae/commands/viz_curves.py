"""``colormae viz curves``: pre-training loss curves of several runs on one plot (Fig. 2, right)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae viz curves``."""
    parser = sub.add_parser(
        "curves", help="loss curves of several runs on one plot",
        description="Plot the training loss in each run directory's metrics.jsonl on one figure "
                    "(supplement Fig. 2, right): the raw loss faintly, its moving average on top.",
    )
    parser.add_argument("runs", metavar="RUN_DIR", nargs="+", help="run directories (or metrics.jsonl files)")
    parser.add_argument("-o", "--out", default="curves.png", help="output PNG (default: curves.png)")
    parser.add_argument("--labels", help="comma-separated legend labels (default: the run directory names)")
    parser.add_argument("--smooth", type=float, default=0.6,
                        help="EMA smoothing in [0, 1), as TensorBoard's slider; 0 = raw (default: 0.6)")
    parser.add_argument("--x", choices=("step", "epoch"), default="step", help="x axis (default: step)")
    parser.add_argument("--log-y", action="store_true", help="logarithmic loss axis")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Draw the figure and print its path."""
    from colormae.viz.curves import plot_loss_curves

    labels = [s.strip() for s in args.labels.split(",")] if args.labels else None
    out = plot_loss_curves(args.runs, args.out, smooth=args.smooth, labels=labels, x=args.x, log_y=args.log_y)
    print(out)
    return 0
