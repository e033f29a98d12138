"""``colormae embed``: the settings of writing the features of every image of a folder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from colormae.config import setting
from colormae.jobs.common import CKPT_HELP, LAYER_HELP, Runtime


@dataclass
class EmbedConfig(Runtime):
    """Features of every image of a folder (or built-in data set) with a frozen encoder, no masking.

    Images are read with the checkpoint's own normalisation and image size (resize to cover, centre crop,
    as the probes), encoded in eval mode without gradients and written to OUT (.safetensors: tensors
    features, labels, index; .npy: the features array) with the file list beside it (OUT's stem +
    .files.txt, one image a line, in row order) and the skipped unreadable images (.skipped.txt). Work is
    written in chunks to OUT.parts/ first: a rerun with the same settings keeps the chunks already written
    and continues. Under torchrun every process encodes its share of each chunk.
    """

    ckpt: str = setting("", CKPT_HELP, positional=True, required=True, role="io")
    data: str = setting("", "a folder of images (any depth; class sub-folders give labels; with train/ and "
                            "val/ both are read) or a built-in data set (mnist5k, photos, natural)",
                        positional=True, required=True, role="io")
    out: str = setting("", "output file: .safetensors or .npy (-o)", role="io", required=True,
                       metavar="FILE")
    feature: Literal["cls", "mean", "patch"] = setting(
        "cls", "[CLS] token, mean of the patch tokens (both after the final norm) or the patch tokens "
               "(N, L, D)")
    layer: int | None = setting(None, LAYER_HELP)
    split: Literal["all", "train", "val"] = setting(
        "all", "which images: all, or only the train / val split (built-in sets; folders with train/ "
               "and val/)")
    batch_size: int = setting(256, "images per batch", min=1)
    chunk_size: int = setting(4096, "images per chunk written to OUT.parts/ (the unit a rerun keeps)",
                              min=1)
    num_workers: int | None = setting(None, "data-loading worker processes (default: from the CPUs "
                                            "available)", role="io", min=0)
    seed: int = setting(0, "seed of random:<preset>", min=0)


EXAMPLES = """\
examples:
  colormae embed runs/demo/pretrain /data/photos -o feats.safetensors
  colormae embed colormae-green-epoch_300.pth /data/photos -o feats.npy --feature mean
  colormae embed runs/vitb /data/big -o patches.safetensors --feature patch --device cuda
  colormae embed runs/vitb /data/photos -o block8.safetensors --layer 8         # after block 8 of 12
  torchrun --nproc_per_node=4 -m colormae embed runs/vitb /data/big -o feats.safetensors --device cuda
"""
