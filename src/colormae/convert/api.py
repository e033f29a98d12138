"""``colormae convert``: import any supported checkpoint as a :class:`MaskedAutoencoder`, export it.

Imports (``--from``): ``colormae`` (our checkpoint or bare state dict), ``mae`` (facebookresearch/mae),
``mmpretrain`` (official ColorMAE), ``hf`` (Hugging Face ``ViTMAEForPreTraining``: state dict or
``save_pretrained`` folder), ``timm`` (a ViT: encoder only, the decoder is freshly initialised) or
``auto`` (detected from the keys). Exports (``--to``): ``colormae`` (a pretraining checkpoint),
``timm`` (the encoder as a ``vit_*`` safetensors state dict) and ``hf`` (the whole model as a
``save_pretrained``-style folder: ``config.json`` + ``model.safetensors``), the backbones of mmseg,
mmdet's and detectron2's ViTDet (:func:`export_dense`) and ``onnx`` (the encoder,
:mod:`colormae.convert.onnx_export`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor

from colormae.convert.formats import FROM_LAYOUTS
from colormae.convert.infer import Hint, infer, metadata_hints
from colormae.convert.keymap import list_keys
from colormae.convert.layouts import LAYOUTS
from colormae.convert.reading import ConversionError, Source, read_source
from colormae.errors import UserError
from colormae.models import MAEConfig, MaskedAutoencoder

#: LayerNorm epsilon of timm's ``VisionTransformer``.
TIMM_LAYER_NORM_EPS = 1e-6
#: timm architecture names of the standard ViT sizes: (embed_dim, depth, num_heads) -> size.
_TIMM_SIZES = {(192, 12, 3): "tiny", (384, 12, 6): "small", (768, 12, 12): "base", (1024, 24, 16): "large",
               (1280, 32, 16): "huge"}


@dataclass
class Imported:
    """A converted model, the layout it came from and what the user should know (``notes``)."""

    model: MaskedAutoencoder
    layout: str
    notes: list[str] = field(default_factory=list)


def detect_layout(src: Source) -> str:
    """Which project a checkpoint comes from, from its wrapper and key names."""
    keys = src.state_dict.keys()
    if src.hf_config is not None:
        return "hf"
    if src.raw.get("format") == "colormae/1":
        return "colormae"
    if any(k.startswith(("backbone.", "neck.")) for k in keys):
        return "mmpretrain"
    if any(k.startswith(("vit.", "embeddings.", "decoder.decoder_")) for k in keys):
        return "hf"
    if "encoder.patch_embed.proj.weight" in keys:
        return "colormae"
    if "patch_embed.proj.weight" in keys:
        return "mae" if "decoder_embed.weight" in keys else "timm"
    raise ConversionError(f"{src.path}: unknown checkpoint layout (first keys: {list_keys(keys)}); if you "
                          f"know its project, convert it with `colormae convert {src.path} -o model.pt "
                          f"--from {{{','.join(FROM_LAYOUTS[1:])}}}`")


def load_into(model: torch.nn.Module, sd: dict[str, Tensor], *,
              partial_prefixes: tuple[str, ...] = ()) -> None:
    """``model.load_state_dict(sd)`` that reports problems as one :class:`ConversionError` line.

    Keys of the model starting with one of ``partial_prefixes`` may be absent from ``sd`` (they keep
    their fresh initialisation). Missing keys, unexpected keys and shape mismatches list their first keys.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in sd and not k.startswith(partial_prefixes)]
    unexpected = [k for k in sd if k not in own]
    mismatched = [f"{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}" for k in sd
                  if k in own and sd[k].shape != own[k].shape]
    if mismatched:
        raise ConversionError(f"{len(mismatched)} shape mismatch(es) (checkpoint vs model): "
                              f"{list_keys(mismatched)}")
    if missing or unexpected:
        parts = [f"missing {list_keys(missing)}" if missing else "",
                 f"unexpected {list_keys(unexpected)}" if unexpected else ""]
        raise ConversionError("checkpoint does not fit the model: " + "; ".join(p for p in parts if p))
    model.load_state_dict(sd, strict=False)


def _from_ours(sd: dict[str, Tensor], config: MAEConfig | None, overrides: dict[str, Any],
               with_decoder: bool = True, *, hints: Sequence[Hint] = (),
               notes: list[str] | None = None) -> MaskedAutoencoder:
    """Our model holding ``sd``; the config is ``config`` or inferred from the shapes (its notes are
    appended to ``notes``)."""
    if config is None:
        inferred = infer(sd, with_decoder=with_decoder, hints=hints, **overrides)
        config = inferred.config
        if notes is not None:
            notes.extend(inferred.notes)
    model = MaskedAutoencoder(config)
    load_into(model, sd, partial_prefixes=() if with_decoder else ("decoder_", "mask_token"))
    return model.eval()


def _hf_legacy_decoder_names(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """transformers 5's ``save_pretrained`` writes the decoder blocks of ``ViTMAEForPreTraining`` as
    ``decoder.decoder_encoder.layer.N`` (its reverse key mapping); 4.x files say ``decoder.decoder_layers.N``
    with the same sub-names. Rename the former to the latter so both read the same way."""
    old = "decoder.decoder_encoder.layer."
    return {("decoder.decoder_layers." + k[len(old):]) if k.startswith(old) else k: v for k, v in sd.items()}


def import_model(path: str | Path | Source, from_: str = "auto", *, config: MAEConfig | None = None,
                 **overrides: Any) -> Imported:
    """Read ``path`` (file or HF folder) and rebuild it as a :class:`MaskedAutoencoder` on CPU.

    ``config`` fixes the architecture; otherwise it is read from the checkpoint (colormae, HF) or
    inferred from shapes (mae, mmpretrain, timm) with ``overrides`` such as ``num_heads=6`` applied.
    Head counts that are not in the checkpoint come from its metadata or a preset with the same shapes,
    or are guessed; ``Imported.notes`` says which (see :mod:`colormae.convert.infer`).
    """
    if from_ not in FROM_LAYOUTS:
        raise UserError(f"--from must be one of {', '.join(FROM_LAYOUTS)}, got {from_!r}")
    src = path if isinstance(path, Source) else read_source(path)
    path = src.path
    layout = detect_layout(src) if from_ == "auto" else from_
    notes: list[str] = list(src.notes)
    hints = metadata_hints(src.raw)
    sd = src.state_dict
    if layout == "colormae":
        if src.raw.get("kind") not in (None, "pretrain"):
            raise ConversionError(f"{path}: a {src.raw.get('kind')!r} checkpoint; only pretraining (MAE) "
                                  "checkpoints convert")
        if config is None and isinstance(src.raw.get("model_config"), dict):
            config = MAEConfig(**{**src.raw["model_config"], **overrides})
        model = _from_ours(sd, config, overrides, hints=hints, notes=notes)
    elif layout == "hf":
        from colormae.convert import hf_vitmae as hf

        ours, hf_cfg = hf.state_dict_from_hf(_hf_legacy_decoder_names(sd), src.hf_config)
        if config is None and hf_cfg is None and "layer_norm_eps" not in overrides:
            overrides = {**overrides, "layer_norm_eps": hf.HF_LAYER_NORM_EPS}
            notes.append(f"no config.json: LayerNorm epsilon taken as {hf.HF_LAYER_NORM_EPS:g}, "
                         "ViTMAEConfig's default (weights do not store it)")
        model = _from_ours(ours, config or hf_cfg, overrides, hints=hints, notes=notes)
    elif layout == "timm":
        ours = LAYOUTS["timm"].to_ours(sd)
        if "fc_norm.weight" in sd and "norm.weight" not in sd:  # an avg-pool classifier: no final norm
            dim = sd["fc_norm.weight"].shape[0]
            ours.update({"encoder.norm.weight": torch.ones(dim), "encoder.norm.bias": torch.zeros(dim)})
            notes.append("a fine-tuned (avg-pool) timm classifier: its head and fc_norm are dropped; the "
                         "encoder's final norm (which it never used) is set to the identity")
        model = _from_ours(ours, config, overrides, with_decoder=False, hints=hints, notes=notes)
        notes.append("timm ViT holds the encoder only: the decoder is freshly initialised (MAE init)")
    else:
        model = _from_ours(LAYOUTS[layout].to_ours(sd), config, overrides, hints=hints, notes=notes)
    return Imported(model=model, layout=layout, notes=notes)


# ------------------------------------------------------------------------------------------------ export
def timm_spec(config: MAEConfig) -> tuple[str, dict[str, Any]]:
    """``(timm model name, extra create_model kwargs)`` building a ViT with this encoder's shapes.

    Standard sizes map to ``vit_{tiny,small,base,large}_patch16_224`` / ``vit_huge_patch14_224`` with no
    extra kwargs; anything else uses the nearest name plus ``img_size``, ``patch_size``, ... overrides.
    """
    size = _TIMM_SIZES.get((config.embed_dim, config.depth, config.num_heads))
    standard = (size is not None and config.image_hw == (224, 224) and config.in_chans == 3
                and config.mlp_ratio == 4.0 and config.patch_size == (14 if size == "huge" else 16))
    if standard:
        return f"vit_{size}_patch{config.patch_size}_224", {}
    kwargs = {"img_size": list(config.image_hw), "patch_size": config.patch_size, "in_chans": config.in_chans,
              "embed_dim": config.embed_dim, "depth": config.depth, "num_heads": config.num_heads,
              "mlp_ratio": config.mlp_ratio}
    return f"vit_{size or 'base'}_patch16_224", kwargs


def timm_notes(config: MAEConfig) -> list[str]:
    """What a user must add to :func:`timm_spec`'s ``create_model`` call to compute the same features:
    the LayerNorm epsilon when it is not timm's (a Hugging Face import keeps 1e-12)."""
    eps = config.layer_norm_eps
    if eps == TIMM_LAYER_NORM_EPS:
        return []
    return [f"the model's LayerNorm epsilon is {eps:g}, timm's ViT uses {TIMM_LAYER_NORM_EPS:g}: also pass "
            f"norm_layer=functools.partial(torch.nn.LayerNorm, eps={eps:g}) to timm.create_model"]


def timm_pretrained_cfg(config: MAEConfig, data: dict[str, Any] | None = None, *, num_classes: int = 0,
                        class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """The ``pretrained_cfg_overlay`` that makes timm preprocess like colormae's evaluation transform
    (``timm.data.resolve_data_config``): ``input_size`` (C, H, W), bicubic resize to cover ``size / 0.875``,
    centre crop, our ``mean`` / ``std``; plus ``num_classes`` and the class names (``label_names``)."""
    h, w = config.image_hw
    cfg: dict[str, Any] = {"input_size": [config.in_chans, h, w], "interpolation": "bicubic",
                           "crop_pct": 0.875, "crop_mode": "center", "num_classes": num_classes}
    if data and data.get("mean") is not None:
        cfg.update(mean=list(data["mean"]), std=list(data["std"]))
    if class_names:
        cfg["label_names"] = list(class_names)
    return cfg


def timm_create_kwargs(meta: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """``(name, kwargs)`` of the ``timm.create_model(name, **kwargs)`` that rebuilds an :func:`export_timm`
    file from its metadata: ``pretrained=False``, ``num_classes``, ``pretrained_cfg_overlay`` (sequences as
    tuples, as timm keeps them) and the architecture kwargs."""
    overlay = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(meta.get("pretrained_cfg",
                                                                                          "{}")).items()}
    kwargs = {"pretrained": False, "num_classes": int(meta.get("num_classes", 0)),
              "pretrained_cfg_overlay": overlay, **json.loads(meta.get("timm_kwargs", "{}"))}
    return meta["timm_model"], kwargs


def timm_create_call(meta: dict[str, str]) -> str:
    """:func:`timm_create_kwargs` as the Python line a user pastes."""
    name, kwargs = timm_create_kwargs(meta)
    return f"timm.create_model({name!r}, " + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"


def export_timm(model: MaskedAutoencoder, dst: str | Path, *, data: dict[str, Any] | None = None) -> Path:
    """Save the encoder as a timm ViT state dict (safetensors), with the timm name in the metadata.

    Load it with :func:`timm_create_call`'s ``timm.create_model(name, pretrained=False, num_classes=0,
    pretrained_cfg_overlay=..., **kwargs).load_state_dict(safetensors.torch.load_file(dst))``; ``name``,
    ``kwargs`` and the overlay (:func:`timm_pretrained_cfg`) are in the file's metadata (``timm_model``,
    ``timm_kwargs``, ``pretrained_cfg``, ``layer_norm_eps``) and printed by ``colormae convert``; see
    :func:`timm_notes` for a LayerNorm epsilon other than timm's. ``data`` (a checkpoint's ``"data"``
    entry: mean, std, channel names, norm-pix flag) is stored as the ``colormae_data`` JSON, and its
    mean / std as timm's pretrained-config keys ``mean`` / ``std``.
    """
    theirs = LAYOUTS["timm"].from_ours(_encoder_sd(model))
    return _save_timm(theirs, model.config, dst, data=data)


def export_timm_classifier(model: torch.nn.Module, config: MAEConfig, dst: str | Path, *, num_classes: int,
                           global_pool: str, class_names: Sequence[str] | None = None,
                           data: dict[str, Any] | None = None) -> Path:
    """Save a fine-tuned classifier (a timm ``VisionTransformer``) as a timm state dict with its head:
    like :func:`export_timm`, with ``num_classes``, ``global_pool`` and the class names in the metadata."""
    return _save_timm(model.state_dict(), config, dst, data=data, num_classes=num_classes,
                      extra={"global_pool": global_pool}, class_names=class_names)


def _save_timm(theirs: dict[str, Tensor], config: MAEConfig, dst: str | Path, *, data: dict[str, Any] | None,
               num_classes: int = 0, extra: dict[str, Any] | None = None,
               class_names: Sequence[str] | None = None) -> Path:
    from colormae.files import atomic_path

    dst = Path(dst)
    sd = {k: v.detach().contiguous().clone() for k, v in theirs.items()}
    name, kwargs = timm_spec(config)
    kwargs.update(extra or {})
    pretrained = timm_pretrained_cfg(config, data, num_classes=num_classes, class_names=class_names)
    meta = {"format": "timm", "timm_model": name, "timm_kwargs": json.dumps(kwargs),
            "num_classes": str(num_classes), "layer_norm_eps": repr(config.layer_norm_eps),
            "pretrained_cfg": json.dumps(pretrained)}
    if class_names:
        meta["class_names"] = json.dumps(list(class_names))
    if data:
        meta.update(colormae_data=json.dumps(data), mean=json.dumps(data.get("mean")),
                    std=json.dumps(data.get("std")))
    with atomic_path(dst) as tmp:  # safetensors writes mode 0600 and leaves a partial file on a full disk
        save_file(sd, str(tmp), metadata=meta)
    return dst


def _encoder_sd(model: MaskedAutoencoder) -> dict[str, Tensor]:
    return {k: v for k, v in model.state_dict().items() if k.startswith("encoder.")}


#: The files of a ``--to hf`` folder (``save_pretrained``'s, sharded or not, and the processor config):
#: an existing folder holding only these is an earlier export, which an export may replace.
HF_EXPORT_FILE = re.compile(r"config\.json|preprocessor_config\.json|generation_config\.json|"
                            r"model(-\d+-of-\d+)?\.safetensors(\.index\.json)?")


def export_hf(model: MaskedAutoencoder, dst: str | Path, *, data: dict[str, Any] | None = None) -> Path:
    """Save the whole model as a Hugging Face ``ViTMAEForPreTraining`` folder (config.json + safetensors).

    With ``data`` (a checkpoint's ``"data"`` entry) the folder also gets ``preprocessor_config.json``
    (``image_mean`` / ``image_std`` / ``size``, as HF's ``ViTImageProcessor`` reads them) and
    ``config.json`` keeps the whole entry under ``colormae_data``. The folder is written whole or not at
    all (:func:`colormae.files.atomic_folder`); an earlier export there is replaced.
    """
    from colormae.convert import hf_vitmae as hf
    from colormae.files import atomic_folder, atomic_write_text

    folder = Path(dst)
    others = sorted(p.name for p in folder.iterdir() if not HF_EXPORT_FILE.fullmatch(p.name)) \
        if folder.is_dir() else []
    if others:
        more = f" and {len(others) - 1} more" if others[1:] else ""
        raise UserError(f"-o {folder}: holds {others[0]}{more}, which an export does not write; --to hf "
                        "replaces the folder as a whole: give a new or empty folder, or an earlier export")
    with atomic_folder(dst) as tmp:  # whole or not at all: a failed export leaves any old folder as it was
        hf.save_hf_folder(model, tmp)
        if data:
            h, w = model.config.image_hw
            processor = {"image_processor_type": "ViTImageProcessor", "do_normalize": True,
                         "do_resize": True, "do_rescale": True, "rescale_factor": 1 / 255,
                         "image_mean": data.get("mean"), "image_std": data.get("std"),
                         "size": {"height": h, "width": w}}
            atomic_write_text(tmp / "preprocessor_config.json", json.dumps(processor, indent=2) + "\n",
                              sync=False)
            config = json.loads((tmp / "config.json").read_text())
            config["colormae_data"] = data
            atomic_write_text(tmp / "config.json", json.dumps(config, indent=2) + "\n", sync=False)
    return Path(dst)


def export_colormae(model: MaskedAutoencoder, dst: str | Path, *, source: str = "", layout: str = "",
                    data: dict[str, Any] | None = None) -> Path:
    """Save as our pretraining checkpoint (``kind="pretrain"``, step 0), readable by ``colormae.load``;
    ``data`` (the source's ``"data"`` entry: normalisation, norm-pix flag) is kept."""
    from colormae.train.checkpoint import save_checkpoint

    payload = {"kind": "pretrain", "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
               "model_config": asdict(model.config), "step": 0, "epoch": 0,
               "config": {"converted_from": source, "layout": layout}}
    if data:
        payload["data"] = data
    return save_checkpoint(dst, payload)


def export_dense(model: MaskedAutoencoder, dst: str | Path, layout: str, *,
                 data: dict[str, Any] | None = None) -> list[str]:
    """Save the encoder as the backbone of a dense stack, in the file form that stack loads; returns what
    the user must know (notes).

    - ``mmseg``: mmseg's ``MAE`` backbone (:mod:`colormae.convert.mmseg_layout`), one file for both of
      mmseg's routes (``init_cfg`` / ``model.pretrained`` and ``load_from``);
    - ``mmdet-vitdet`` / ``detectron2-vitdet``: the ViTDet backbone (:mod:`colormae.convert.vitdet_layouts`).
    """
    from colormae.files import atomic_write

    dst = Path(dst)
    enc = {k: v.detach() for k, v in model.encoder.state_dict().items()}
    if layout == "mmseg":
        from colormae.convert.mmseg_layout import mmseg_checkpoint, mmseg_notes

        payload = mmseg_checkpoint(enc, model.config, data=data)
        notes = mmseg_notes(model.config)
    else:
        from colormae.convert.vitdet_layouts import vitdet_checkpoint, vitdet_notes

        payload = vitdet_checkpoint(enc, model.config, layout, data=data)
        notes = vitdet_notes(model.config, layout)
    atomic_write(dst, lambda fh: torch.save(payload, fh))
    return notes
