"""``colormae viz cam``: EigenCAM maps through the grad-cam package (supplement Fig. 5)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae viz cam``."""
    from colormae.viz.inputs import add_input_arguments

    parser = sub.add_parser(
        "cam", help="EigenCAM maps (grad-cam package) of a pre-trained or fine-tuned ViT",
        description="Overlay EigenCAM maps (pytorch_grad_cam.EigenCAM; target layer the last block's norm1, "
                    "tokens reshaped to the patch grid without [CLS]) on images (supplement Fig. 5). A "
                    "pre-training checkpoint uses its encoder, a fine-tuning checkpoint its classifier.",
    )
    add_input_arguments(parser, "cam.png")
    parser.add_argument("--compare", metavar="CKPT", action="append", default=[],
                        help="another checkpoint drawn as an extra row (e.g. MAE vs ColorMAE-G); repeatable")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Draw the figure and print its path."""
    from colormae.viz.cam import cam_figure
    from colormae.viz.inputs import image_size_of, load_images, load_models

    models = load_models([args.checkpoint, *args.compare], args.device)
    images = load_images(args.images, image_size_of(models[next(iter(models))]),
                         num_builtin=args.num_images)
    print(cam_figure(models, images, args.out))
    return 0
