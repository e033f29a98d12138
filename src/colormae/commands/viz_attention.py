"""``colormae viz attention``: last-layer [CLS] attention maps averaged over heads (supplement Fig. 4)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae viz attention``."""
    from colormae.viz.inputs import add_input_arguments

    parser = sub.add_parser(
        "attention", help="[CLS] self-attention of the last layer, averaged over heads",
        description="Overlay the last layer's [CLS] self-attention, averaged over heads, on images "
                    "(supplement Fig. 4). Taken with forward hooks, so it works on timm's fused attention "
                    "without editing the model; pre-training and fine-tuning checkpoints both work.",
    )
    add_input_arguments(parser, "attention.png")
    parser.add_argument("--compare", metavar="CKPT", action="append", default=[],
                        help="another checkpoint drawn as an extra row (e.g. MAE vs ColorMAE-G); repeatable")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Draw the figure and print its path."""
    from colormae.viz.attention import attention_figure
    from colormae.viz.inputs import image_size_of, load_images, load_models

    models = load_models([args.checkpoint, *args.compare], args.device)
    images = load_images(args.images, image_size_of(models[next(iter(models))]),
                         num_builtin=args.num_images)
    print(attention_figure(models, images, args.out))
    return 0
