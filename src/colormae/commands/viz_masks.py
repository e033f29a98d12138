"""``colormae viz masks``: example masks of every masking strategy side by side."""

from __future__ import annotations

import argparse

from colormae.errors import UserError


def parse_grid_arg(text: str) -> tuple[int, int]:
    """``"14"`` or ``"14x10"`` (rows x columns of patches) as ``(gh, gw)``; argparse reports a bad one."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"must look like 14 or 14x10, got {text!r}")
    return parts[0], parts[1]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae viz masks``."""
    from colormae.masking.names import NAMES  # no torch: --help stays quick

    parser = sub.add_parser(
        "masks", help="example masks of every masking strategy side by side",
        description="Draw a few masks of each strategy in a row (visible patches light, masked dark), each "
                    "row labelled with its mean number of visible 4-neighbours of a visible patch. "
                    "Without --bank: every built-in strategy, colour masks from fresh noise. With --bank: "
                    "random and block masks, then one row per bank file (ColorMAE Algorithm 1 on its "
                    "patterns).",
    )
    parser.add_argument("--bank", metavar="FILE", nargs="+", default=[],
                        help="pattern bank .npz files (ours or the official single-array files)")
    parser.add_argument("--names", default=",".join(NAMES),
                        help="comma-separated strategies when no --bank is given "
                             f"(default: {','.join(NAMES)})")
    parser.add_argument("--mode", choices=("independent", "reference"), default="independent",
                        help="colour masking mode for --bank files (default: independent)")
    parser.add_argument("--ratio", type=float, default=0.75, help="masking ratio (default: 0.75)")
    parser.add_argument("--grid", type=parse_grid_arg, default=(14, 14),
                        help="patch grid, e.g. 14 or 14x10 (default: 14, a 224 px image of 16 px patches)")
    parser.add_argument("--examples", type=int, default=6, help="masks per row (default: 6)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("-o", "--out", default="masks.png", help="output PNG (default: masks.png)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Draw the figure and print its path."""
    from colormae.masking import BlockMasking, ColorNoiseMasking, RandomMasking
    from colormae.noise import PatternBank
    from colormae.viz.masks import build_figure_maskings, mask_figure

    if args.examples < 1:
        raise UserError(f"--examples must be at least 1, got {args.examples}")
    if args.bank:
        maskings = {"random": RandomMasking(args.ratio), "block": BlockMasking(args.ratio)}
        for i, path in enumerate(args.bank, start=1):
            bank = PatternBank.load(path)
            label = f"{bank.name}" + (f" ({bank.color})" if bank.color else "")
            label = f"{label} #{i}" if label in maskings else label
            maskings[label] = ColorNoiseMasking(bank, args.ratio, mode=args.mode)
    else:
        names = [n.strip() for n in args.names.split(",") if n.strip()]
        maskings = build_figure_maskings(names, args.ratio)
    out = mask_figure(maskings, args.out, grid=args.grid, ratio=args.ratio, seed=args.seed,
                      n_examples=args.examples)
    print(out)
    return 0
