"""``colormae patterns generate|show|describe``: make, look at and inspect colour-noise pattern banks."""

from __future__ import annotations

import argparse

from colormae.errors import UserError
from colormae.noise.generate import COLORS, SIGMA1, SIGMA2, SIGMA_RANGE

_GENERATE_HELP = f"""\
Draw a bank of noise patterns and save it as an .npz (ColorMAE supplement, Sec. 1; W = white noise,
G_s = Gaussian low-pass of std s pixels, periodic boundaries):
  white    N(0, 1) noise         uniform  U[0, 1) noise (MAE's random masking)
  red      G_s * W               blue     W - G_s * W    s ~ U[{SIGMA_RANGE[0]}, {SIGMA_RANGE[1]}] per pattern
  green    G_s1 * W - G_s2 * W   purple   W - green      s1 = {SIGMA1}, s2 = {SIGMA2}
The paper uses 3072 patterns of 256x256 (the defaults); the same seed always gives the same bank.
"""


#: Smallest pattern side: the 8x8 window of the smallest model's patch grid.
MIN_SIZE = 8


def _size(text: str) -> tuple[int, int]:
    """``"256"`` -> (256, 256); ``"128x256"`` -> (128, 256)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be N or HxW, got {text!r}") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"size must be N or HxW with positive sides, got {text!r}")
    if min(parts) < MIN_SIZE:
        raise argparse.ArgumentTypeError(f"size {text!r} is too small: a pattern must cover a patch grid "
                                         f"window, at least {MIN_SIZE}x{MIN_SIZE} (the paper's are 256)")
    return parts[0], parts[1]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae patterns`` and its three sub-commands."""
    parser = sub.add_parser("patterns", help="generate, show and describe colour-noise pattern banks",
                            description=__doc__)
    actions = parser.add_subparsers(dest="patterns_command", metavar="ACTION")

    gen = actions.add_parser("generate", help="draw a bank of noise patterns into an .npz",
                             description=_GENERATE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    gen.add_argument("--color", required=True, choices=COLORS, help="noise colour")
    gen.add_argument("--count", type=int, default=3072,
                     help="number of patterns (default: 3072, the paper's)")
    gen.add_argument("--size", type=_size, default=(256, 256), metavar="N|HxW",
                     help="pattern size in pixels (default: 256, the paper's)")
    gen.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bank (default: 0)")
    gen.add_argument("--dtype", choices=("float32", "float16"), default="float32",
                     help="storage dtype; float16 halves the file (no 8-bit option: it makes masks tie)")
    gen.add_argument("--device", default="cpu", help="where to draw and filter, e.g. cuda (default: cpu)")
    gen.add_argument("--sigma", type=float, help="red/blue: one σ for every pattern instead of a range")
    gen.add_argument("--sigma-range", type=float, nargs=2, metavar=("LO", "HI"),
                     help=f"red/blue: σ ~ U[LO, HI] per pattern (default: {SIGMA_RANGE[0]} {SIGMA_RANGE[1]})")
    gen.add_argument("--sigma1", type=float,
                     help=f"green/purple: std of the narrow Gaussian (default: {SIGMA1})")
    gen.add_argument("--sigma2", type=float,
                     help=f"green/purple: std of the wide Gaussian (default: {SIGMA2})")
    gen.add_argument("-o", "--out", help="output .npz (default: <color>_<count>.npz)")
    gen.set_defaults(func=run_generate)

    show = actions.add_parser("show", help="draw patterns, example masks and spectra of banks to a PNG",
                              description="For each bank: a few patterns (the mask's crop outlined) and "
                                          "example masks cut from them as pretraining does (the largest "
                                          "values stay visible); below, the radially averaged power "
                                          "spectrum of every bank on one log-log axis.")
    show.add_argument("files", metavar="FILE", nargs="+", help="pattern bank .npz files (ours or official)")
    show.add_argument("-o", "--out", default="patterns.png", help="output PNG (default: patterns.png)")
    show.add_argument("--examples", type=int, default=4, help="patterns and masks per bank (default: 4)")
    show.add_argument("--grid", type=int, default=14, help="patch grid side of the masks (default: 14)")
    show.add_argument("--ratio", type=float, default=0.75, help="masking ratio (default: 0.75)")
    show.add_argument("--seed", type=int, default=0, help="seed of the example crops (default: 0)")
    show.set_defaults(func=run_show)

    desc = actions.add_parser("describe", help="print what a bank file holds",
                              description="Print count, size, dtype, colour, σ's, seed and value statistics "
                                          "of each bank file.")
    desc.add_argument("files", metavar="FILE", nargs="+", help="pattern bank .npz files")
    desc.set_defaults(func=run_describe)

    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def run_generate(args: argparse.Namespace) -> int:
    """Generate, save and summarize one bank."""
    import torch

    from colormae.noise import PatternBank

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {args.device}: CUDA is not available on this machine")
    sigmas = {"sigma": args.sigma, "sigma_range": args.sigma_range, "sigma1": args.sigma1,
              "sigma2": args.sigma2}
    bank = PatternBank.generate(args.color, args.count, args.size, seed=args.seed, device=args.device,
                                progress=True, **sigmas)
    out = bank.save(args.out or f"{args.color}_{args.count}.npz", dtype=args.dtype)
    h, w = bank.size
    print(f"wrote {out}: {len(bank)} {args.color} patterns of {h}x{w} ({args.dtype}, seed {args.seed})")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Load the banks and draw the sheet."""
    from colormae.noise import PatternBank
    from colormae.viz.patterns import pattern_sheet

    if args.examples < 1:
        raise UserError(f"--examples must be at least 1, got {args.examples}")
    banks = [PatternBank.load(path) for path in args.files]
    out = pattern_sheet(banks, args.out, n_examples=args.examples, grid=args.grid, ratio=args.ratio,
                        seed=args.seed)
    print(out)
    return 0


def run_describe(args: argparse.Namespace) -> int:
    """Print each bank's description."""
    from colormae.noise import PatternBank

    texts = [PatternBank.load(path).describe() for path in args.files]
    print("\n\n".join(texts))
    return 0
