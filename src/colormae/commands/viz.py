"""``colormae viz <what>``: pictures of patterns, masks and what a model learned.

Each ``<what>`` lives in ``colormae/commands/viz_<what>.py`` with ``register(viz_subparsers)``; the
arguments the checkpoint-based ones share are added here (the drawing code in :mod:`colormae.viz` takes
explicit arguments).
"""

from __future__ import annotations

import argparse
import importlib

from colormae.viz.inputs import DEFAULT_NUM_IMAGES

#: ``viz`` sub-command modules, in the order ``--help`` lists them.
VIZ_COMMANDS: tuple[str, ...] = ("recon", "attention", "cam", "curves", "masks")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae viz`` and its sub-commands."""
    parser = sub.add_parser("viz", help="draw masks, reconstructions, attention, CAM and loss curves",
                            description="Draw pictures of masks and of what a model learned: "
                                        "reconstructions (recon), [CLS] attention (attention), EigenCAM "
                                        "(cam), loss curves (curves) and masking strategies (masks). "
                                        "`colormae viz WHAT --help` explains each.")
    viz_sub = parser.add_subparsers(dest="viz_command", metavar="WHAT")
    for name in VIZ_COMMANDS:
        importlib.import_module(f"colormae.commands.viz_{name}").register(viz_sub)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def add_input_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    """Arguments shared by the checkpoint-based ``viz`` commands (CKPT, IMAGES, -o, --num-images, ...)."""
    parser.add_argument("checkpoint", metavar="CKPT",
                        help="a colormae run directory or checkpoint, or any checkpoint colormae converts")
    parser.add_argument("images", metavar="IMAGES", nargs="*",
                        help="image files or folders of images to draw (default: built-in photos)")
    parser.add_argument("-o", "--out", default=default_out, help=f"output PNG (default: {default_out})")
    parser.add_argument("--num-images", type=int, default=DEFAULT_NUM_IMAGES,
                        help="how many built-in photos (or images of each IMAGES folder) to draw "
                             "(default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")
    parser.add_argument("--bands", default=None, metavar="B,B,B",
                        help="1-based bands to show as RGB (e.g. 3,2,1) or one band as grey; default: "
                             "RGB for 3 channels, grey for 1, each band as grey otherwise")


def add_overlay_command(sub: argparse._SubParsersAction, name: str, *, help: str, description: str,
                        figure: str) -> None:
    """Add a ``colormae viz <name>`` command that overlays per-model heat maps on images.

    ``figure`` names the drawing function as ``"module:function"`` (imported only when the command
    runs), called as ``function({label: model}, images, out_path, norm=, bands=) -> Path``. Images are
    normalised with the first checkpoint's statistics and channel count.
    """
    parser = sub.add_parser(name, help=help, description=description)
    add_input_arguments(parser, f"{name}.png")
    parser.add_argument("--compare", metavar="CKPT", action="append", default=[],
                        help="another checkpoint drawn as an extra row (e.g. MAE vs ColorMAE-G); repeatable")

    def run(args: argparse.Namespace) -> int:
        from colormae.data.normalization import normalization_from_checkpoint
        from colormae.loading import load
        from colormae.viz.display import parse_bands
        from colormae.viz.inputs import image_size_of, load_images, load_models

        module, function = figure.split(":")
        draw = getattr(importlib.import_module(module), function)
        first = load(args.checkpoint, map_location=args.device)
        norm = normalization_from_checkpoint(first.checkpoint, first.in_chans)
        models = load_models([args.checkpoint, *args.compare], args.device)
        images = load_images(args.images, image_size_of(first.model), num_builtin=args.num_images, norm=norm)
        print(draw(models, images, args.out, norm=norm, bands=parse_bands(args.bands)))
        return 0

    parser.set_defaults(func=run)
