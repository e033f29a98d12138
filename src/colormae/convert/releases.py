"""The published pretraining checkpoints colormae reads: facebookresearch/mae's and the official ColorMAE
releases (mmpretrain layout), with where they are published and the command that converts each.

A minimal table (names, sources and URLs as published; ``size_bytes`` / ``sha256`` only where the
publisher lists them: facebookresearch/mae gives 6-hex md5 prefixes only, quoted on the model-zoo page, and
ColorMAE's SHA-256 manifest lives on its Hugging Face card). Nothing here downloads anything; the docs'
model-zoo page is generated from :data:`RELEASES`.
"""

from __future__ import annotations

from dataclasses import dataclass

MAE_URL = "https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_{size}.pth"
COLORMAE_URL = ("https://huggingface.co/carlosh93/colormae/resolve/main/ViT_Base/{epochs}/{color}/pretrain/"
                "epoch_{epochs}.safetensors")


@dataclass(frozen=True)
class Release:
    """One published checkpoint file."""

    name: str  #: the published file name
    source: str  #: who publishes it (repository)
    url: str
    size_bytes: int | None  #: as published, None where not
    sha256: str | None  #: as published, None where not
    kind: str  #: what it holds, e.g. ``"pretrain ViT-B/16 (encoder)"``
    command: str  #: the one command that converts it to a colormae checkpoint


def _mae(size: str, arch: str) -> Release:
    name = f"mae_pretrain_vit_{size}.pth"
    return Release(name, "facebookresearch/mae", MAE_URL.format(size=size), None, None,
                   f"MAE pretrain {arch}, encoder only, 1600 epochs",
                   f"colormae convert {name} -o mae_vit_{size}.pt")


def _colormae(color: str, epochs: int) -> Release:
    return Release(f"ViT_Base/{epochs}/{color}/pretrain/epoch_{epochs}.safetensors", "carlosh93/ColorMAE",
                   COLORMAE_URL.format(color=color, epochs=epochs), None, None,
                   f"ColorMAE-{color[0].upper()} pretrain ViT-B/16, {epochs} epochs (mmpretrain layout)",
                   f"colormae convert epoch_{epochs}.safetensors -o colormae_{color}_{epochs}e.pt")


#: Every release, facebookresearch/mae first, then ColorMAE by schedule and colour.
RELEASES: list[Release] = [
    _mae("base", "ViT-B/16"), _mae("large", "ViT-L/16"), _mae("huge", "ViT-H/14"),
    *(_colormae(color, epochs) for epochs in (100, 300, 800, 1600)
      for color in ("green", "blue", "purple", "red")),
]
