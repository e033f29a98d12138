"""``colormae viz attention``: last-layer [CLS] attention maps averaged over heads (supplement Fig. 4)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae viz attention``."""
    from colormae.commands.viz import add_overlay_command

    add_overlay_command(
        sub, "attention", figure="colormae.viz.attention:attention_figure",
        help="[CLS] self-attention of the last layer, averaged over heads",
        description="Overlay the last layer's [CLS] self-attention, averaged over heads, on images "
                    "(supplement Fig. 4). Taken with forward hooks, so it works on timm's fused attention "
                    "without editing the model; pre-training and fine-tuning checkpoints both work.",
    )
