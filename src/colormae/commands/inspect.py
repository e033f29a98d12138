"""``colormae inspect CKPT [--json]``: what a checkpoint is, before it is used.

CKPT is a checkpoint file (ours, facebookresearch/mae, mmpretrain / official ColorMAE, Hugging Face,
timm; .pt / .pth / .bin / .safetensors), a colormae run directory (its newest checkpoint) or a Hugging
Face save_pretrained folder. It is read with the safe readers only and nothing is built or converted.
Printed: format, parts present (encoder, decoder, head, optimizer), shapes, the norm-pix flag, the
normalisation and band names, step and settings when recorded, where it was initialised from (init), the
SHA-256 of the weight file and the published release it matches; warnings say what a finding means.
"""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  colormae inspect runs/demo/pretrain                    # our run: its newest checkpoint
  colormae inspect mae_pretrain_vit_base.pth             # facebookresearch/mae (encoder only)
  colormae inspect colormae-green-epoch_300.pth --json   # official ColorMAE, as JSON
  colormae inspect hf_demo/                              # a Hugging Face save_pretrained folder
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae inspect``."""
    parser = sub.add_parser("inspect", help="what a checkpoint holds: parts, shapes, norm-pix, "
                                            "normalisation, sha256, known releases",
                            description=__doc__, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ckpt", metavar="CKPT", help="checkpoint file, colormae run directory or HF folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Inspect and print."""
    import json

    from colormae.convert.inspect import describe, inspect_checkpoint

    info = inspect_checkpoint(args.ckpt)
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
    else:
        print("\n".join(describe(info)))
    return 0
