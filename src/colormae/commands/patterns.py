"""``colormae patterns generate|show|describe|atlas``: make, look at and inspect noise pattern banks of any
family (colours, power-law, rings, gain tables: ``--filter SPEC``)."""

from __future__ import annotations

import argparse
import re

from colormae.errors import UserError
from colormae.noise.colors import COLORS, SIGMA1, SIGMA2, SIGMA_RANGE  # no torch: --help stays quick

_GENERATE_HELP = f"""\
Draw a bank of noise patterns and save it as an .npz (ColorMAE supplement, Sec. 1; W = white noise,
G_s = Gaussian low-pass of std s pixels, periodic boundaries):
  white    N(0, 1) noise         uniform  U[0, 1) noise (MAE's random masking)
  red      G_s * W               blue     W - G_s * W    s ~ U[{SIGMA_RANGE[0]}, {SIGMA_RANGE[1]}] per pattern
  green    G_s1 * W - G_s2 * W   purple   W - green      s1 = {SIGMA1}, s2 = {SIGMA2}
The paper uses 3072 patterns of 256x256 (the defaults); the same seed always gives the same bank.

Any other noise family: --filter SPEC (instead of --color), e.g.
  powerlaw:beta=2                power 1/f^beta (pink 1, brown 2, blue -1, violet -2; presets pink, brown,
                                 violet)
  ring:f0=0.2,width=0.05[,smooth] annulus at f0 cycles/pixel, ideal or Gaussian-smooth
  gauss:bandpass,s1=0.5,s2=2     Gaussian lowpass|highpass (s=S or smin=,smax=) or bandpass|bandstop
                                 (s1=,s2=); green:s1=0.25 is the green preset with one σ changed
  table:FILE.csv                 gain interpolated between 'frequency,gain' rows
Radial families are scaled to unit variance; the spec is stored in the bank.
"""

#: Defaults of the banks describe / show / atlas generate from --filter (small: a quick look).
LOOK_COUNT, LOOK_SIZE = 256, 64


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
    kind = gen.add_mutually_exclusive_group(required=True)
    kind.add_argument("--color", choices=COLORS, help="noise colour")
    kind.add_argument("--filter", metavar="SPEC", help="any noise family, e.g. powerlaw:beta=2 (see above)")
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
                              description="For each bank (files, and --filter SPEC generated on the fly): a "
                                          "few patterns (the mask's crop outlined) and example masks cut "
                                          "from them as pretraining does (the largest values stay visible); "
                                          "below, the radially averaged power spectrum of every bank on one "
                                          "log-log axis, dashed where the filter's intended one is known.")
    show.add_argument("files", metavar="FILE", nargs="*", help="pattern bank .npz files (ours or official)")
    show.add_argument("-o", "--out", default="patterns.png", help="output PNG (default: patterns.png)")
    show.add_argument("--examples", type=int, default=4, help="patterns and masks per bank (default: 4)")
    _look_arguments(show)
    show.set_defaults(func=run_show)

    desc = actions.add_parser("describe", help="print what a bank holds and what masks it makes",
                              description="Print count, size, dtype, colour, σ's, seed and value statistics "
                                          "of each bank (files, and --filter SPEC generated on the fly), its "
                                          "spectrum's log-log slope against the intended one, the clumpiness "
                                          "of its masks (mean visible 4-neighbours of a visible patch) and "
                                          "their coverage on --grid.")
    desc.add_argument("files", metavar="FILE", nargs="*", help="pattern bank .npz files")
    _look_arguments(desc)
    desc.set_defaults(func=run_describe)

    atlas = actions.add_parser("atlas", help="draw several noise families side by side (the mask atlas)",
                               description="One column per family (files, --filter SPEC): patterns, masks, "
                                           "measured vs intended spectrum and clumpiness.")
    atlas.add_argument("files", metavar="FILE", nargs="*", help="pattern bank .npz files")
    atlas.add_argument("-o", "--out", default="atlas.png", help="output PNG (default: atlas.png)")
    _look_arguments(atlas)
    atlas.set_defaults(func=run_atlas)

    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _look_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--filter", metavar="SPEC", action="append", default=[],
                        help="also a bank of this noise family (repeatable; see patterns generate --help)")
    parser.add_argument("--count", type=int, default=LOOK_COUNT,
                        help=f"patterns of each --filter bank (default: {LOOK_COUNT})")
    parser.add_argument("--size", type=_size, default=(LOOK_SIZE, LOOK_SIZE), metavar="N|HxW",
                        help=f"pattern size of each --filter bank (default: {LOOK_SIZE})")
    parser.add_argument("--grid", type=int, default=14, help="patch grid side of the masks (default: 14)")
    parser.add_argument("--ratio", type=float, default=0.75, help="masking ratio (default: 0.75)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the banks and crops (default: 0)")


def _banks(args: argparse.Namespace) -> list[tuple[str, object, object]]:
    """``(label, bank, filter or None)`` of the files and --filter specs given."""
    from colormae.noise import PatternBank, parse_filter

    if not args.files and not args.filter:
        raise UserError("give pattern bank files and / or --filter SPEC")
    if args.count < 1:
        raise UserError(f"--count must be at least 1, got {args.count}")
    if not 0 < args.ratio < 1:
        raise UserError(f"--ratio must be in (0, 1), got {args.ratio}")
    out = []
    for path in args.files:
        bank = PatternBank.load(path)
        known = bank.filter or (bank.color if bank.color in COLORS else None)
        out.append((bank.name, bank, parse_filter(known) if known else None))
    for spec in args.filter:
        filt = parse_filter(spec)
        out.append((filt.name, PatternBank.from_filter(filt, args.count, args.size, seed=args.seed), filt))
    return out


def run_generate(args: argparse.Namespace) -> int:
    """Generate, save and summarize one bank."""
    import torch

    from colormae.noise import PatternBank

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {args.device}: CUDA is not available on this machine")
    sigmas = {"sigma": args.sigma, "sigma_range": args.sigma_range, "sigma1": args.sigma1,
              "sigma2": args.sigma2}
    if args.filter is not None:
        if any(v is not None for v in sigmas.values()):
            raise UserError("--sigma* options go with --color; put a filter's σ's in its SPEC (s1=, s2=, s=)")
        bank = PatternBank.from_filter(args.filter, args.count, args.size, seed=args.seed, device=args.device,
                                       progress=True)
    else:
        bank = PatternBank.generate(args.color, args.count, args.size, seed=args.seed, device=args.device,
                                    progress=True, **sigmas)
    stem = re.sub(r"[^A-Za-z0-9.=+-]+", "_", bank.color or "bank")
    out = bank.save(args.out or f"{stem}_{args.count}.npz", dtype=args.dtype)
    h, w = bank.size
    what = bank.filter if args.filter is not None else args.color
    print(f"wrote {out}: {len(bank)} {what} patterns of {h}x{w} ({args.dtype}, seed {args.seed})")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Load / generate the banks and draw the sheet."""
    from colormae.masking.lab import analyse
    from colormae.viz.patterns import pattern_sheet

    if args.examples < 1:
        raise UserError(f"--examples must be at least 1, got {args.examples}")
    entries = _banks(args)
    intended = [analyse(bank, filt, grid=args.grid, ratio=args.ratio, seed=args.seed).intended
                if filt is not None else None for _, bank, filt in entries]
    out = pattern_sheet([b for _, b, _ in entries], args.out, n_examples=args.examples, grid=args.grid,
                        ratio=args.ratio, seed=args.seed, labels=[label for label, _, _ in entries],
                        intended=intended)
    print(out)
    return 0


def run_describe(args: argparse.Namespace) -> int:
    """Print each bank's description and what its masks look like."""
    from colormae.masking.lab import analyse

    texts = []
    for _, bank, filt in _banks(args):
        report = analyse(bank, filt, grid=args.grid, ratio=args.ratio, seed=args.seed)
        texts.append("\n".join([bank.describe(), *report.lines()]))
    print("\n\n".join(texts))
    return 0


def run_atlas(args: argparse.Namespace) -> int:
    """Draw the mask atlas of the banks."""
    from colormae.masking.lab import analyse
    from colormae.viz.atlas import mask_atlas

    entries = [(label, bank, analyse(bank, filt, grid=args.grid, ratio=args.ratio, seed=args.seed))
               for label, bank, filt in _banks(args)]
    print(mask_atlas(entries, args.out, grid=args.grid, ratio=args.ratio, seed=args.seed))
    return 0
