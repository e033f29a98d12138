"""``colormae viz <what>``: pictures of patterns, masks and what a model learned.

Each ``<what>`` lives in ``colormae/commands/viz_<what>.py`` with ``register(viz_subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib

#: ``viz`` sub-command modules, in the order ``--help`` lists them.
VIZ_COMMANDS: tuple[str, ...] = ("recon", "attention", "cam", "curves", "masks")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae viz`` and its sub-commands."""
    parser = sub.add_parser("viz", help="draw masks, reconstructions, attention, CAM and loss curves",
                            description=__doc__)
    viz_sub = parser.add_subparsers(dest="viz_command", metavar="WHAT")
    for name in VIZ_COMMANDS:
        importlib.import_module(f"colormae.commands.viz_{name}").register(viz_sub)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)
