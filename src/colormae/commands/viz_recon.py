"""``colormae viz recon``: MAE reconstructions under several maskings (supplement Fig. 3)."""

from __future__ import annotations

import argparse

from colormae.errors import UserError

DEFAULT_MASKINGS = "random,blue,green,purple,red"  # supplement Fig. 3


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae viz recon``."""
    from colormae.commands.viz import add_input_arguments

    parser = sub.add_parser(
        "recon", help="original | masked | reconstruction | reconstruction + visible, per masking",
        description="Draw MAE reconstructions of images under several maskings (supplement Fig. 3): one "
                    "block of rows per masking, each row original | masked | reconstruction | "
                    "reconstruction with the visible patches pasted back. Norm-pix predictions are mapped "
                    "back to pixels with a mean and variance per masked patch estimated from the visible "
                    "patches around it (--stats visible), or with the masked patch's own, which leaks the "
                    "answer (--stats true); the figure names which. Needs a pre-training checkpoint.",
    )
    add_input_arguments(parser, "recon.png")
    parser.add_argument("--maskings", default=DEFAULT_MASKINGS,
                        help="comma-separated masking names (random, random-white, block, red, blue, green, "
                             "purple, white); default: %(default)s")
    parser.add_argument("--ratio", type=float, default=0.75, help="masking ratio (default: 0.75)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the masks (default: 0)")
    parser.add_argument("--stats", choices=("visible", "true"), default="visible",
                        help="statistics that un-normalise a masked patch's norm-pix prediction: visible "
                             "(from the visible patches around it) or true (its own: flatters the model); "
                             "default: %(default)s")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Draw the figure and print its path."""
    from colormae.data.normalization import normalization_from_checkpoint
    from colormae.loading import load
    from colormae.viz.display import parse_bands
    from colormae.viz.inputs import image_size_of, load_images
    from colormae.viz.masks import build_figure_maskings
    from colormae.viz.recon import reconstruction_figure

    loaded = load(args.checkpoint, map_location=args.device)
    if loaded.kind == "finetune":
        raise UserError(f"{args.checkpoint}: reconstructions need a pre-training checkpoint, not a "
                        "fine-tuned classifier")
    model = loaded.model
    names = [n.strip() for n in args.maskings.split(",") if n.strip()]
    if not names:
        raise UserError("--maskings is empty")
    maskings = build_figure_maskings(names, args.ratio)
    bands = parse_bands(args.bands)
    norm = normalization_from_checkpoint(loaded.checkpoint, loaded.in_chans)
    images = load_images(args.images, image_size_of(model), num_builtin=args.num_images, norm=norm)
    out = reconstruction_figure(model, images, maskings, args.out, seed=args.seed, norm=norm, bands=bands,
                                stats=args.stats)
    print(out)
    return 0
