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

from collections.abc import Callable, Sequence
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
        decoder: whether the file held a decoder (an encoder-only file's MAE decoder is freshly built).
        channel_map: the line saying how :func:`adapt_channels` mapped the weights' channels to
            :attr:`in_chans` (e.g. ``patch embedding mapped from 3 to 4 channels: ...``), else ``None``.
    """

    kind: str
    model: nn.Module
    config: MAEConfig
    source_format: str
    name: str
    checkpoint: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    decoder: bool = True
    channel_map: str | None = None

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
            what = "a fine-tuned classifier" if self.kind == "finetune" else f"a {self.kind} checkpoint"
            raise UserError(f"{self.name}: {what}; this needs a pretraining (MAE) checkpoint")
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
    flag = _declared_norm_pix(src.raw)
    return _to(Loaded("pretrain", imported.model, imported.model.config, imported.layout, str(path),
                      {} if flag is None else {"source_norm_pix_loss": flag}, list(imported.notes),
                      decoder=imported.layout != "timm"), map_location)


def _declared_norm_pix(raw: dict[str, Any]) -> bool | None:
    """The norm-pix flag a foreign file states besides its weights: facebookresearch/mae's
    ``args.norm_pix_loss``, an mmengine config text's ``norm_pix=...``; ``None`` when it states none."""
    import re

    args = raw.get("args")
    state = getattr(args, "state", None)  # a Namespace read by the restricted unpickler: inert, its state
    value = state.get("norm_pix_loss") if isinstance(state, dict) else getattr(args, "norm_pix_loss", None)
    if isinstance(value, bool):
        return value
    meta = raw.get("meta")
    cfg = meta.get("cfg") if isinstance(meta, dict) else None
    found = re.search(r"\bnorm_pix(?:_loss)?\s*=\s*(True|False)", cfg) if isinstance(cfg, str) else None
    return found.group(1) == "True" if found else None


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

    keys = [f.name for f in fields(loaded.config) if f.name != "norm_pix_loss"]

    def fits(preset: str) -> bool:
        return all(getattr(PRESETS[preset], k) == getattr(loaded.config, k) for k in keys)

    name = (loaded.checkpoint.get("config") or {}).get("model")
    if isinstance(name, str) and name in PRESETS and (fits(name) or not loaded.checkpoint.get("init")):
        return name  # a warm-started run's `model` setting need not be its architecture: shapes decide
    for preset in PRESETS:
        if fits(preset):
            return preset
    raise UserError(f"{loaded.name}: its encoder matches no preset, so there is no random baseline of "
                    "its shape")


def adapt_channels(loaded: Loaded, channels: int, mode: str = "mean", *,
                   band_names: Sequence[str] | None = None) -> Loaded:
    """``loaded`` (an MAE) for ``channels``-channel images: its patch embedding and pixel head mapped by
    :mod:`colormae.models.channels` (``mode``: ``mean``, ``names``, ``auto`` or ``BAND:R,BAND:G,...`` over
    ``band_names``), the line saying how appended to ``notes``. Unchanged when the count already fits."""
    import dataclasses

    from colormae.models.channels import map_state_channels, resolve_mapping

    if channels == loaded.in_chans:
        return loaded
    if loaded.kind not in ("pretrain", "random"):
        raise UserError(f"{loaded.name}: a {loaded.kind} checkpoint; init_channels maps the patch embedding "
                        "of a pretraining (MAE) checkpoint")
    mae = loaded.mae()
    mapping, line = resolve_mapping(mode, channels, loaded.in_chans, band_names)
    config = dataclasses.replace(loaded.config, in_chans=channels)
    param = next(mae.parameters())
    model = MaskedAutoencoder(config).to(device=param.device, dtype=param.dtype)
    model.load_state_dict(map_state_channels(mae.state_dict(), channels, mapping))
    loaded.channel_map, loaded.model, loaded.config = line, model.eval(), config
    loaded.notes.append(line)
    return loaded


def load_for_data(spec: str | Path, data: str, *, init_channels: str | None = None, seed: int = 0,
                  progress: bool = True, say: bool = True, stats_file: str | Path | None = None) -> Loaded:
    """:func:`load` for a job on ``data``: with ``init_channels`` set and a data folder whose images have
    another channel count than the checkpoint, the model is mapped to them (:func:`adapt_channels`, band
    names from the folder's stats file) and its recorded normalisation replaced by the data's
    (``normalize=auto``: ImageNet for 3 channels, else the stats file), since the checkpoint's no longer
    applies. The mapping line is written (with ``say``: on the main rank) and kept in ``notes``;
    ``progress`` shows the folder scan; ``stats_file``: the data's stats file (``data stats -o FILE``)."""
    from colormae.data import build_dataset, data_payload, is_builtin, resolve_normalization

    loaded = load(spec, seed=seed)
    if not init_channels or is_builtin(data):
        return loaded
    channels = int(build_dataset(data, split="train").channels)
    if channels == loaded.in_chans:
        return loaded
    norm = resolve_normalization("auto", channels, data, progress=progress, stats_file=stats_file)
    line = adapt_channels(loaded, channels, init_channels, band_names=norm.channel_names).channel_map
    loaded.checkpoint["data"] = data_payload(norm, norm_pix_loss=loaded.config.norm_pix_loss,
                                             img_size=loaded.img_size)
    if say:
        from colormae.progress import write

        write(f"{loaded.name}: {line}")
    return loaded
