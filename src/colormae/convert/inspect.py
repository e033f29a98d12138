"""What a checkpoint is, before it is used: ``colormae inspect CKPT`` (:func:`inspect_checkpoint`).

The file is read once with colormae's safe readers (:func:`colormae.convert.reading.read_source`), its
layout detected by :func:`colormae.convert.api.detect_layout`, its keys renamed to ours by the layout's
:class:`~colormae.convert.keymap.KeyMap` and its shapes recovered by :func:`colormae.convert.infer.infer`
(head counts from its own metadata or a preset) or read from its config (ours, Hugging Face). Nothing is
built: no model, no conversion.

Reported: format, parts present (encoder, decoder, head, optimizer), shapes, the norm-pix flag, the
normalisation and band names, the training step and settings when recorded, where it was initialised from
(``init``, written by ``pretrain init=``; ``-`` when absent), SHA-256 (and md5) of the weight file, the
published release it matches (:mod:`colormae.convert.releases`), and warnings saying what each finding
means for the user.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from colormae.convert.reading import HF_WEIGHT_FILES, ConversionError, Source, read_source

#: Keys of a classification head in the layouts colormae reads (timm / mae, mmpretrain, HF).
HEAD_PREFIXES = ("head.", "classifier.", "fc_norm.")
NO_DECODER = "no decoder: reconstructions and further pretraining start the decoder from scratch"
NORM_PIX = ("norm-pix target: the decoder predicts each patch normalised by its own mean and variance; read "
            "as pixels its reconstructions look like noise (colormae viz recon un-normalises them)")
_CHUNK = 1 << 20


@dataclass
class Inspection:
    """What :func:`inspect_checkpoint` found (``to_dict`` is the ``--json`` output)."""

    path: str
    file: str
    format: str
    layout: str
    kind: str | None
    parts: dict[str, bool]
    shapes: dict[str, Any]
    norm_pix_loss: bool | None
    normalization: dict[str, Any] | None
    step: int | None
    epoch: int | None
    settings: dict[str, Any] | None
    init: Any
    size_bytes: int
    sha256: str
    md5: str
    release: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return json.loads(json.dumps(asdict(self), default=str))


def file_digests(path: Path) -> tuple[str, str]:
    """``(sha256, md5)`` hex digests of a file, read in 1 MiB blocks."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def _weights_file(path: Path) -> Path:
    """The file that holds the weights: ``path``, a HF folder's weight file or a run's newest checkpoint."""
    from colormae.train.checkpoint import resolve_checkpoint

    if path.is_dir() and (path / "config.json").exists():
        found = next((path / f for f in HF_WEIGHT_FILES if (path / f).exists()), None)
        if found is not None:
            return found
    return resolve_checkpoint(path)


def _common_prefix(keys: list[str]) -> str | None:
    """The first dotted component every key shares (``"model."``), else ``None``."""
    first = {k.split(".", 1)[0] for k in keys if "." in k}
    if len(first) == 1 and all("." in k for k in keys):
        return next(iter(first)) + "."
    return None


def _layout(src: Source, warnings: list[str]) -> str:
    """The detected layout; a shared key prefix (``model.``, ...) is stripped and said in a warning."""
    from colormae.convert.api import detect_layout

    try:
        return detect_layout(src)
    except ConversionError:
        prefix = _common_prefix(list(src.state_dict))
        if prefix is None:
            raise
        stripped = Source(src.path, {k[len(prefix):]: v for k, v in src.state_dict.items()}, src.wrapper,
                          {}, src.hf_config)
        try:
            layout = detect_layout(stripped)
        except ConversionError:
            raise ConversionError(f"{src.path}: unknown checkpoint layout, even without the {prefix!r} "
                                  "prefix every key carries") from None
    warnings.append(f"key prefix: every key starts with {prefix!r} (a training wrapper's); colormae convert, "
                    f"load and pretrain init= do not strip it: re-save the state dict without it "
                    f"({{k.removeprefix({prefix!r}): v for k, v in sd.items()}})")
    src.state_dict = stripped.state_dict
    return layout


def _ddp_prefix(src: Source) -> bool:
    inner = src.raw.get(src.wrapper) if src.wrapper else src.raw
    keys = [k for k, v in (inner or {}).items() if isinstance(v, Tensor)] if isinstance(inner, dict) else []
    return bool(keys) and all(k.startswith("module.") for k in keys)


def _ours(src: Source, layout: str) -> tuple[dict[str, Tensor], Any]:
    """``(state dict in our names, our MAEConfig when the file states it, else None)``."""
    from colormae.convert.layouts import LAYOUTS

    sd = {k: v for k, v in src.state_dict.items() if not k.startswith(HEAD_PREFIXES)}
    if layout == "colormae":
        return sd, None
    if layout == "hf":
        from colormae.convert import hf_vitmae as hf
        from colormae.convert.api import _hf_legacy_decoder_names

        return hf.state_dict_from_hf(_hf_legacy_decoder_names(sd), src.hf_config)
    return LAYOUTS[layout].to_ours(sd), None


def _shapes(src: Source, layout: str, parts: dict[str, bool], notes: list[str],
            warnings: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(shapes, the whole config as a dict)`` from the file's own config or its tensors; sets
    ``parts["encoder"]`` and ``parts["decoder"]``."""
    from colormae.convert.infer import infer, metadata_hints

    cfg = src.raw.get("model_config") if layout == "colormae" else None
    if isinstance(cfg, dict):  # our checkpoint: its recorded config
        parts["encoder"] = True
        parts["decoder"] = src.raw.get("kind") == "pretrain" and "decoder_embed.weight" in src.state_dict
        config = dict(cfg)
    else:
        ours, hf_cfg = _ours(src, layout)
        parts["encoder"] = any(k.startswith("encoder.") for k in ours)
        parts["decoder"] = "decoder_embed.weight" in ours
        if hf_cfg is not None:
            config = asdict(hf_cfg)
        else:
            try:
                inferred = infer(ours, with_decoder=parts["decoder"], hints=metadata_hints(src.raw))
            except ConversionError as err:
                warnings.append(f"shapes unknown: {err}")
                return {}, {}
            config = asdict(inferred.config)
            notes.extend(inferred.notes)
            warnings.extend(n for n in inferred.notes if n.startswith("GUESSED"))
    if not parts["decoder"]:
        config = {k: v for k, v in config.items() if not k.startswith("decoder_")}
    keys = ("patch_size", "embed_dim", "depth", "num_heads", "img_size", "in_chans", "mlp_ratio",
            "decoder_embed_dim", "decoder_depth", "decoder_num_heads")
    return {k: config[k] for k in keys if k in config}, config


def _norm_pix(src: Source, config: dict[str, Any]) -> bool | None:
    """The norm-pix flag where the file records it (ours, mae ``args``, HF config, mmengine ``meta.cfg``)."""
    data = src.raw.get("data")
    if isinstance(data, dict) and "norm_pix_loss" in data:
        return bool(data["norm_pix_loss"])
    if src.raw.get("kind") == "pretrain" and "norm_pix_loss" in config:  # ours, before data recorded it
        return bool(config["norm_pix_loss"])
    if src.hf_config is not None and "norm_pix_loss" in src.hf_config:
        return bool(src.hf_config["norm_pix_loss"])
    state = _args_state(src.raw.get("args"))
    if isinstance(state, dict) and "norm_pix_loss" in state:
        return bool(state["norm_pix_loss"])
    m = re.search(r"\bnorm_pix(?:_loss)?\s*=\s*(True|False)", _mm_cfg(src))
    return None if m is None else m.group(1) == "True"


def _args_state(args: Any) -> dict[str, Any] | None:
    """facebookresearch/mae's ``ckpt["args"]`` as a dict (an ``argparse.Namespace``, or the inert object the
    restricted unpickler makes of it, whose ``state`` holds the values)."""
    state = getattr(args, "state", None)
    if isinstance(state, dict):
        return state
    return dict(vars(args)) if args is not None and hasattr(args, "__dict__") else None


def _mm_cfg(src: Source) -> str:
    meta = src.raw.get("meta")
    cfg = meta.get("cfg") if isinstance(meta, dict) else None
    return cfg if isinstance(cfg, str) else ""


def _floats(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]


def _normalization(src: Source, file: Path) -> dict[str, Any] | None:
    """Mean, std and band names as recorded: ours ``data``, a timm export's or HF folder's metadata, an
    mmengine config's ``data_preprocessor`` (0-255 scale, divided by 255)."""
    data = src.raw.get("data")
    if isinstance(data, dict) and "mean" in data:
        keys = ("normalize", "channels", "mean", "std", "channel_names", "img_size", "source")
        return {k: data[k] for k in keys if k in data}
    if file.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(file), framework="pt") as fh:
            meta = fh.metadata() or {}
        if "colormae_data" in meta:
            return _normalization(Source(file, {}, raw={"data": json.loads(meta["colormae_data"])}), file)
    if src.hf_config is not None:
        if isinstance(src.hf_config.get("colormae_data"), dict):
            return _normalization(Source(file, {}, raw={"data": src.hf_config["colormae_data"]}), file)
        pre = src.path / "preprocessor_config.json"
        if pre.is_file():
            p = json.loads(pre.read_text())
            return {"normalize": "preprocessor_config.json", "mean": p.get("image_mean"),
                    "std": p.get("image_std"), "channel_names": None, "source": str(pre)}
    m = re.search(r"data_preprocessor\s*=\s*dict\((.*?)\)", _mm_cfg(src), re.S)
    mean = re.search(r"\bmean\s*=\s*\[([^\]]*)\]", m.group(1)) if m else None
    std = re.search(r"\bstd\s*=\s*\[([^\]]*)\]", m.group(1)) if m else None
    if mean and std:
        return {"normalize": "meta.cfg data_preprocessor (0-255 / 255)",
                "mean": [round(v / 255, 6) for v in _floats(mean.group(1))],
                "std": [round(v / 255, 6) for v in _floats(std.group(1))], "channel_names": None,
                "source": "meta.cfg"}
    return None


def _training(src: Source) -> tuple[int | None, int | None, dict[str, Any] | None]:
    """``(step, epoch, settings)`` where recorded (ours; mae ``epoch`` / ``args``; mmengine ``meta``)."""
    raw = src.raw
    meta = raw.get("meta") if isinstance(raw.get("meta"), dict) else {}
    step = raw.get("step", meta.get("iter"))
    epoch = raw.get("epoch", meta.get("epoch"))
    settings = raw.get("config") if isinstance(raw.get("config"), dict) else None
    if settings is None:
        settings = _args_state(raw.get("args"))
    if settings is None and _mm_cfg(src):
        settings = {"mmengine_cfg": f"{len(_mm_cfg(src))} characters of mmengine config in meta.cfg"}
    return _as_int(step), _as_int(epoch), settings


def _as_int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _parts(src: Source, file: Path, parts: dict[str, bool]) -> None:
    keys = src.state_dict
    parts["head"] = src.raw.get("kind") in ("finetune", "segment", "detect") or any(
        k.startswith(("head.", "classifier.")) and keys[k].ndim >= 1 for k in keys)
    parts["optimizer"] = any(isinstance(src.raw.get(k), dict) and src.raw.get(k)
                             for k in ("optimizer", "optim_wrapper")) or (
        src.hf_config is not None and (src.path / "optimizer.pt").exists())


def _format(src: Source, file: Path, layout: str) -> str:
    container = ("Hugging Face save_pretrained folder" if src.hf_config is not None
                 else "safetensors" if file.suffix == ".safetensors" else "torch.save")
    names = {"colormae": f"colormae checkpoint ({src.raw['format']})" if "format" in src.raw
             else "colormae state dict", "mae": "facebookresearch/mae",
             "mmpretrain": "mmpretrain (official ColorMAE layout)", "hf": "Hugging Face ViTMAE",
             "timm": "timm ViT (encoder)"}
    where = f", under {src.wrapper!r}" if src.wrapper else ""
    return f"{names[layout]} ({container}{where})"


def _warn(info: Inspection, src: Source) -> None:
    w = info.warnings
    if info.parts["encoder"] and not info.parts["decoder"] and info.kind in (None, "pretrain"):
        w.insert(0, NO_DECODER)
    if info.norm_pix_loss and info.parts["decoder"]:
        w.append(NORM_PIX)
    if info.normalization is None:
        w.append("normalisation not recorded: colormae evaluates it with ImageNet statistics (3 or 1 "
                 "channels) or none; pass normalize= if it was trained otherwise")
    if info.parts["head"] and info.kind in (None, "finetune"):
        w.append("classification head: a fine-tuned model; its encoder is no longer the pretrained one")
    if _ddp_prefix(src):
        info.notes.append("every key carries DDP's 'module.' prefix; colormae strips it when reading")


def _release(sha256: str, md5: str) -> dict[str, Any] | None:
    from colormae.convert.releases import find_release, find_release_md5

    found = find_release(sha256)
    if found is not None:
        return {**asdict(found), "matched": "published sha256"}
    found = find_release_md5(md5)
    if found is not None:
        return {**asdict(found), "matched": f"published md5 prefix {found.md5}"}
    return None


def inspect_checkpoint(path: str | Path) -> Inspection:
    """Inspect a checkpoint file, a colormae run directory or a Hugging Face folder (module docstring).

    Raises :class:`~colormae.errors.UserError` (one line) for a missing, unreadable or unknown file.
    """
    path = Path(path).expanduser()
    file = _weights_file(path)
    src = read_source(path if path.is_dir() and (path / "config.json").exists() else file)
    warnings: list[str] = []
    notes = list(src.notes)
    layout = _layout(src, warnings)
    parts: dict[str, bool] = {}
    shapes, config = _shapes(src, layout, parts, notes, warnings)
    _parts(src, file, parts)
    step, epoch, settings = _training(src)
    sha256, md5 = file_digests(file)
    info = Inspection(
        path=str(path), file=str(file), format=_format(src, file, layout), layout=layout,
        kind=src.raw.get("kind") if layout == "colormae" else ("pretrain" if parts["decoder"] else None),
        parts=parts, shapes=shapes, norm_pix_loss=_norm_pix(src, config),
        normalization=_normalization(src, file), step=step, epoch=epoch, settings=settings,
        init=src.raw.get("init", "-"), size_bytes=file.stat().st_size, sha256=sha256, md5=md5,
        release=_release(sha256, md5), notes=notes, warnings=warnings)
    _warn(info, src)
    return info


def describe(info: Inspection) -> list[str]:
    """The report as lines of text (``colormae inspect`` without ``--json``)."""
    def show(value: Any) -> str:
        if value is None or value == {} or value == []:
            return "-"
        return value if isinstance(value, str) else json.dumps(value, default=str)

    s = info.shapes
    shape = (f"patch {s.get('patch_size', '-')}, width {s.get('embed_dim', '-')}, depth "
             f"{s.get('depth', '-')}, heads {s.get('num_heads', '-')}, image {show(s.get('img_size'))}, "
             f"channels {s.get('in_chans', '-')}")
    if "decoder_embed_dim" in s:
        shape += (f"; decoder width {s['decoder_embed_dim']}, depth {s['decoder_depth']}, heads "
                  f"{s.get('decoder_num_heads', '-')}")
    norm = info.normalization or {}
    lines = [
        f"file: {info.file} ({info.size_bytes} bytes)", f"format: {info.format}", f"kind: {show(info.kind)}",
        "parts: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in info.parts.items()),
        f"shapes: {shape}", f"norm-pix target: {show(info.norm_pix_loss)}",
        f"normalization: {show(norm.get('normalize'))} mean {show(norm.get('mean'))} std "
        f"{show(norm.get('std'))}; bands {show(norm.get('channel_names'))}",
        f"step: {show(info.step)}, epoch: {show(info.epoch)}", f"settings: {show(info.settings)}",
        f"init: {show(info.init)}", f"sha256: {info.sha256}",
        "release: " + (f"{info.release['name']} ({info.release['source']}; {info.release['kind']}; "
                       f"{info.release['matched']}); {info.release['command']}" if info.release else "-"),
    ]
    return lines + [f"note: {n}" for n in info.notes] + [f"warning: {w}" for w in info.warnings]
