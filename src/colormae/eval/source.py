"""What the evaluation commands take as ``CKPT``: a run, a checkpoint, a foreign file or ``random:<preset>``.

- a pretraining run directory or checkpoint file (``kind="pretrain"``): the MAE, probed through its
  encoder;
- a fine-tuning checkpoint (``kind="finetune"``): the timm classifier, probed through its features;
- ``random:<preset>`` (e.g. ``random:mae_vit_tiny_32px``): a randomly initialised MAE of that preset
  (MAE initialisation, seeded) - the baseline every pretrained encoder must beat;
- any checkpoint ``colormae convert`` reads (facebookresearch/mae, mmpretrain, Hugging Face, timm),
  converted on the fly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from colormae.errors import UserError

RANDOM_PREFIX = "random:"


@dataclass
class Encoder:
    """A model with ``forward_features(images (B, C, H, W)) -> (B, 1 + L, D)`` and what it is.

    ``img_size`` is the input side the model expects; ``name`` describes the source for result files.
    """

    model: nn.Module
    img_size: int
    in_chans: int
    name: str
    kind: str  # "pretrain" | "finetune" | "random" | "converted:<layout>"


def _side(img_size: int | tuple[int, int]) -> int:
    if isinstance(img_size, tuple | list):
        if img_size[0] != img_size[1]:
            raise UserError(f"evaluation needs square images; the model expects {tuple(img_size)}")
        return int(img_size[0])
    return int(img_size)


def load_encoder(spec: str | Path, *, seed: int = 0, map_location: str | torch.device = "cpu") -> Encoder:
    """Resolve ``spec`` (see the module docstring) to an :class:`Encoder` in eval mode."""
    text = str(spec)
    if text.startswith(RANDOM_PREFIX):
        from colormae.models import create_mae

        preset = text[len(RANDOM_PREFIX):]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = create_mae(preset)
        return Encoder(model.to(map_location).eval(), _side(model.config.img_size), model.config.in_chans,
                       text, "random")
    path = Path(spec)
    if not path.exists():
        raise UserError(f"{path}: no such checkpoint, run directory or random:<preset>")
    from colormae.train.checkpoint import load_checkpoint, load_mae, resolve_checkpoint

    hf_folder = path.is_dir() and (path / "config.json").exists()
    kind = None
    if not hf_folder:
        try:
            kind = load_checkpoint(path).get("kind")
        except UserError:
            if path.is_dir():
                raise
    if kind == "finetune":
        from colormae.eval.classifier import load_classifier

        file = resolve_checkpoint(path)
        model = load_classifier(file, map_location)
        return Encoder(model, _side(model.patch_embed.img_size), model.patch_embed.proj.in_channels,
                       str(file), "finetune")
    if kind is not None:
        file = resolve_checkpoint(path)
        mae = load_mae(file, map_location)
        return Encoder(mae, _side(mae.config.img_size), mae.config.in_chans, str(file), "pretrain")
    from colormae.convert import import_model

    imported = import_model(path)
    mae = imported.model.to(map_location).eval()
    return Encoder(mae, _side(mae.config.img_size), mae.config.in_chans, str(path),
                   f"converted:{imported.layout}")
