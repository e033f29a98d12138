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

from colormae.data.normalization import Normalization
from colormae.errors import UserError

RANDOM_PREFIX = "random:"


@dataclass
class Encoder:
    """A model with ``forward_features(images (B, C, H, W)) -> (B, 1 + L, D)`` and what it is.

    ``img_size`` is the input ``(H, W)`` the model expects; ``name`` describes the source for result
    files; ``normalization`` is the input normalisation it was trained with (``None``: not known, e.g.
    ``random:<preset>``: the job's ``normalize`` setting decides); ``fingerprint`` identifies the weights
    (file path, size and modification time, or preset and seed) for feature caches.
    """

    model: nn.Module
    img_size: tuple[int, int]
    in_chans: int
    name: str
    kind: str  # "pretrain" | "finetune" | "random" | "converted:<layout>"
    normalization: Normalization | None = None
    fingerprint: str = ""


def _hw(img_size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(img_size, tuple | list):
        return (int(img_size[0]), int(img_size[1]))
    return (int(img_size), int(img_size))


def file_fingerprint(path: str | Path) -> str:
    """``path:size:mtime_ns`` of a file, or of every file in a folder (changes whenever one is rewritten)."""
    p = Path(path).resolve()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    parts = [f"{f}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files]
    return "|".join(parts)


def _resized(model: nn.Module, img_size: tuple[int, int] | None) -> nn.Module:
    """``model`` at ``img_size`` (position tables resampled), or unchanged."""
    if img_size is None:
        return model
    from colormae.models.mae import MaskedAutoencoder
    from colormae.models.pos_embed import resize_mae, resize_vit

    if isinstance(model, MaskedAutoencoder):
        return resize_mae(model, img_size).eval()
    return resize_vit(model, img_size).eval()


def _model_hw(model: nn.Module) -> tuple[int, int]:
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "image_hw"):
        return tuple(config.image_hw)
    return _hw(tuple(model.patch_embed.img_size))


def load_encoder(spec: str | Path, *, seed: int = 0, map_location: str | torch.device = "cpu",
                 img_size: int | tuple[int, int] | None = None) -> Encoder:
    """Resolve ``spec`` (see the module docstring) to an :class:`Encoder` in eval mode.

    ``img_size``: evaluate at this ``(H, W)`` instead of the checkpoint's own; the position embeddings
    are resampled (:func:`colormae.models.pos_embed.resample_pos_embed`: the fixed sin-cos table is
    regenerated for the new grid, other tables are resampled bicubically).
    """
    from colormae.data.normalization import identity, imagenet, normalization_from_checkpoint

    size = _hw(img_size) if img_size is not None else None
    text = str(spec)
    if text.startswith(RANDOM_PREFIX):
        from colormae.models import create_mae

        preset = text[len(RANDOM_PREFIX):]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = create_mae(preset, **({"img_size": size} if size else {}))
        return Encoder(model.to(map_location).eval(), _hw(model.config.img_size), model.config.in_chans,
                       text, "random", None, f"{text}:seed={seed}")
    path = Path(spec)
    if not path.exists():
        raise UserError(f"{path}: no such checkpoint, run directory or random:<preset>")
    from colormae.train.checkpoint import load_checkpoint, load_mae, resolve_checkpoint

    hf_folder = path.is_dir() and (path / "config.json").exists()
    kind = None
    ckpt = None
    if not hf_folder:
        try:
            ckpt = load_checkpoint(path, map_location="meta")
            kind = ckpt.get("kind")
        except UserError:
            if path.is_dir():
                raise
    if kind == "finetune":
        from colormae.eval.classifier import load_classifier

        file = resolve_checkpoint(path)
        model = _resized(load_classifier(file, map_location), size)
        in_chans = model.patch_embed.proj.in_channels
        return Encoder(model, _model_hw(model), in_chans, str(file), "finetune",
                       normalization_from_checkpoint(ckpt, in_chans), file_fingerprint(file))
    if kind is not None:
        file = resolve_checkpoint(path)
        mae = _resized(load_mae(file, map_location), size)
        return Encoder(mae, _model_hw(mae), mae.config.in_chans, str(file), "pretrain",
                       normalization_from_checkpoint(ckpt, mae.config.in_chans), file_fingerprint(file))
    from colormae.convert import import_model

    imported = import_model(path)
    mae = _resized(imported.model.to(map_location).eval(), size)
    chans = mae.config.in_chans
    return Encoder(mae, _model_hw(mae), chans, str(path), f"converted:{imported.layout}",
                   imagenet(chans) if chans in (1, 3) else identity(chans), file_fingerprint(path))
