"""One loader for every model colormae reads: ``colormae.load(spec) -> Loaded``.

``spec`` is any of
- a colormae run directory (its newest checkpoint) or checkpoint file: a pretraining checkpoint gives
  the :class:`~colormae.models.MaskedAutoencoder`, a fine-tuning one the timm classifier;
- a foreign checkpoint (facebookresearch/mae, mmpretrain / official ColorMAE, Hugging Face file or
  ``save_pretrained`` folder, timm ViT), converted on the fly by :func:`colormae.convert.import_model`;
- ``random:<preset>`` (e.g. ``random:mae_vit_tiny_32px``): a randomly initialised MAE of that preset
  (MAE initialisation, seeded), the baseline every pretrained encoder must beat.

Evaluation, figures, conversion and the dense jobs all load through :func:`load`. Files are read with
safe loaders only (``weights_only`` / safetensors); weights that are not finite are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from colormae.errors import UserError
from colormae.models import MAEConfig, MaskedAutoencoder
from colormae.train.checkpoint import require_finite

RANDOM_PREFIX = "random:"
#: Checkpoint entries too large or too private to keep in :attr:`Loaded.checkpoint`.
_HEAVY_KEYS = ("model", "optimizer", "scaler", "rng", "ema")


@dataclass
class Loaded:
    """A loaded model, in eval mode, and what it is.

    Attributes:
        kind: ``"pretrain"`` (an MAE), ``"finetune"`` (a timm ``VisionTransformer`` classifier),
            ``"segment"`` (a :class:`~colormae.dense.segmentor.Segmentor`: images -> per-pixel logits),
            ``"detect"`` (a torchvision Mask / Faster R-CNN on a ViTDet backbone) or
            ``"random"`` (a freshly initialised MAE).
        model: the module; both kinds have ``forward_features(images (B, C, H, W)) -> (B, 1 + L, D)``.
        config: the architecture (:class:`MAEConfig`; a classifier's encoder shapes).
        source_format: ``"colormae"``, ``"random"`` or the foreign layout (``"mae"``, ``"mmpretrain"``,
            ``"hf"``, ``"timm"``).
        name: what it was loaded from (a checkpoint file or ``random:<preset>``).
        checkpoint: the checkpoint's small entries (``step``, ``config``, ``model_config``, ...).
        notes: what the user should know about a conversion (printed by the commands).
    """

    kind: str
    model: nn.Module
    config: MAEConfig
    source_format: str
    name: str
    checkpoint: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def img_size(self) -> tuple[int, int]:
        """Input ``(H, W)`` in pixels the model was built for."""
        return self.config.image_hw

    @property
    def in_chans(self) -> int:
        """Input channels."""
        return self.config.in_chans

    def mae(self) -> MaskedAutoencoder:
        """The masked autoencoder, or a one-line error for a classifier."""
        if not isinstance(self.model, MaskedAutoencoder):
            raise UserError(f"{self.name}: a fine-tuned classifier; this needs a pretraining (MAE) "
                            "checkpoint")
        return self.model


def load(spec: str | Path, *, from_: str = "auto", seed: int = 0, map_location: str | torch.device = "cpu",
         ema: bool = False, **overrides: Any) -> Loaded:
    """Load ``spec`` (see the module docstring) on ``map_location``, in eval mode.

    ``from_`` forces a foreign layout (``"mae"``, ``"mmpretrain"``, ``"hf"``, ``"timm"``); ``overrides``
    (e.g. ``num_heads=6``) fix what a foreign file's shapes cannot tell; ``ema`` takes a fine-tuning
    checkpoint's EMA weights; ``seed`` seeds ``random:<preset>``.
    """
    text = str(spec)
    if text.startswith(RANDOM_PREFIX):
        return _to(_random(text, seed, overrides), map_location)
    path = Path(spec).expanduser()
    if not path.exists():
        raise UserError(f"{path}: no such checkpoint, run directory or random:<preset>")
    from colormae.convert import import_model
    from colormae.convert.reading import read_source
    from colormae.train.checkpoint import FORMAT, resolve_checkpoint

    is_hf_folder = path.is_dir() and (path / "config.json").exists()
    src = read_source(path if is_hf_folder else resolve_checkpoint(path))  # read once, safely
    if src.raw.get("format") == FORMAT and from_ in ("auto", "colormae"):
        return _to(_ours(src.raw, src.path, ema), map_location)
    if from_ == "colormae" and src.raw.get("format") != FORMAT:
        raise UserError(f"{src.path}: not a colormae checkpoint")
    imported = import_model(src, from_, **overrides)
    require_finite(imported.model.state_dict(), str(path))
    return _to(Loaded("pretrain", imported.model, imported.model.config, imported.layout, str(path),
                      notes=list(imported.notes)), map_location)


def _to(loaded: Loaded, device: str | torch.device) -> Loaded:
    loaded.model = loaded.model.to(device).eval()
    return loaded


def _random(text: str, seed: int, overrides: dict[str, Any]) -> Loaded:
    from colormae.models import create_mae

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_mae(text[len(RANDOM_PREFIX):], **overrides)
    return Loaded("random", model, model.config, "random", text)


def _mae(config: MAEConfig, ckpt: dict[str, Any]) -> nn.Module:
    return MaskedAutoencoder(config)


def _classifier(config: MAEConfig, ckpt: dict[str, Any]) -> nn.Module:
    from colormae.models.classifier import vit_classifier

    cfg = ckpt.get("model_config") or {}
    return vit_classifier(config, int(cfg["num_classes"]), global_pool=cfg.get("global_pool", "avg"))


def _segmentor(config: MAEConfig, ckpt: dict[str, Any]) -> nn.Module:
    from colormae.dense.segmentor import segmentor_from_config

    return segmentor_from_config(dict(ckpt.get("model_config") or {}))


def _detector(config: MAEConfig, ckpt: dict[str, Any]) -> nn.Module:
    from colormae.dense.detect.model import DetectorConfig, build_detector

    return build_detector(config, DetectorConfig(**ckpt["detector"]))


#: How each checkpoint kind colormae writes is rebuilt: ``kind -> builder(encoder config, checkpoint)``.
BUILDERS: dict[str, Callable[[MAEConfig, dict[str, Any]], nn.Module]] = {
    "pretrain": _mae, "finetune": _classifier, "segment": _segmentor, "detect": _detector,
}


def _ours(ckpt: dict[str, Any], file: Path, ema: bool) -> Loaded:
    """Rebuild the model of a colormae checkpoint dict from :data:`BUILDERS`."""
    from colormae.convert.api import load_into

    kind = ckpt.get("kind")
    small = {k: v for k, v in ckpt.items() if k not in _HEAVY_KEYS}
    cfg_dict = dict(ckpt.get("model_config") or {})
    known = {f.name for f in fields(MAEConfig)}
    try:
        config = MAEConfig(**{k: v for k, v in cfg_dict.items() if k in known})
    except (TypeError, ValueError) as err:
        raise UserError(f"{file}: its model_config does not describe a model ({err})") from None
    if kind not in BUILDERS:
        raise UserError(f"{file}: unknown checkpoint kind {kind!r}")
    model = BUILDERS[kind](config, ckpt)
    if ema and "ema" not in ckpt:
        raise UserError(f"{file}: no EMA weights in this checkpoint")
    weights = ckpt["ema"] if ema else ckpt["model"]
    require_finite(weights, str(file))
    try:
        load_into(model, weights)
    except UserError as err:
        raise UserError(f"{file}: weights do not match its model_config: {err}") from None
    return Loaded(kind, model, config, "colormae", str(file), small)


def preset_of(loaded: Any) -> str:
    """The preset of a loaded encoder (its run's ``model`` setting, else the preset of the same shapes), so
    ``random:<preset>`` gives a baseline of its shape; one-line error when none matches."""
    from dataclasses import fields

    from colormae.models import PRESETS

    name = (loaded.checkpoint.get("config") or {}).get("model")
    if isinstance(name, str) and name in PRESETS:
        return name
    keys = [f.name for f in fields(loaded.config) if f.name != "norm_pix_loss"]
    for preset, cfg in PRESETS.items():
        if all(getattr(cfg, k) == getattr(loaded.config, k) for k in keys):
            return preset
    raise UserError(f"{loaded.name}: its encoder matches no preset, so there is no random baseline of "
                    "its shape")
