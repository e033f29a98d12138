"""``colormae viz cam``: EigenCAM maps through the grad-cam package (supplement Fig. 5)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae viz cam``."""
    from colormae.commands.viz import add_overlay_command

    add_overlay_command(
        sub, "cam", figure="colormae.viz.cam:cam_figure",
        help="EigenCAM maps (grad-cam package) of a pre-trained or fine-tuned ViT",
        description="Overlay EigenCAM maps (pytorch_grad_cam.EigenCAM; target layer the last block's norm1, "
                    "tokens reshaped to the patch grid without [CLS]) on images (supplement Fig. 5). A "
                    "pre-training checkpoint uses its encoder, a fine-tuning checkpoint its classifier.",
    )
