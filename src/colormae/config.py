"""Typed run configuration: flat dataclasses, YAML files and ``key=value`` command-line overrides.

One place turns strings into typed values: :func:`load_config` reads a YAML mapping and/or
``key=value`` overrides, coerces each value to its field's type (``int``, ``float``, ``bool``, ``str``,
``Literal[...]``, ``X | None``, tuples and lists of those) and checks the field's bounds. Unknown keys
and bad values raise :class:`~colormae.errors.UserError` naming the key. These dataclasses stop at the
CLI: library functions take explicit arguments (``pretrain(**config_to_dict(cfg))``).

PyYAML is imported lazily; without it, configs can still be given as ``key=value`` overrides and
``config.yaml`` is written as JSON (which is valid YAML).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from colormae.errors import UserError

T = TypeVar("T")


def _f(default: Any, help: str, **bounds: float) -> Any:
    """A dataclass field with a help text and optional ``min`` / ``max`` (inclusive) / ``below`` bounds."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: default, metadata={"help": help, **bounds})
    return field(default=default, metadata={"help": help, **bounds})


@dataclass
class PretrainConfig:
    """``colormae pretrain``: every key of a YAML config (defaults: the paper's ViT-B/16 recipe)."""

    # model
    model: str = _f("mae_vit_base_patch16", "model preset (colormae.models.PRESETS)")
    norm_pix_loss: bool = _f(True, "normalized-pixel loss (paper default)")
    # data
    data: str = _f("mnist5k", "built-in dataset (mnist5k, photos) or an ImageFolder path")
    img_size: int | None = _f(None, "input size in pixels (default: the preset's)", min=1)
    num_workers: int = _f(2, "DataLoader worker processes per device (0 = load in the main process)", min=0)
    # masking
    masking: str = _f(
        "green", "masking strategy: random, random-white, block, red, blue, green, purple, white")
    mask_ratio: float = _f(0.75, "fraction of patches masked (paper: 0.75)", min=0.0, below=1.0)
    mask_mode: Literal["independent", "reference", "online"] = _f(
        "independent", "colour masks: independent pattern per sample, reference (official code), online")
    bank: str | None = _f(None, "pattern bank .npz for colour masking (default: generated)")
    bank_size: int = _f(3072, "patterns in a generated bank (paper: 3072)", min=1)
    pattern_size: int = _f(256, "side of a generated pattern in pixels (paper: 256)", min=1)
    mask_schedule: list[tuple[int, str]] | None = _f(
        None, "change masking by epoch, e.g. [[0, green], [100, blue]] (overrides masking)")
    # optimisation
    epochs: int = _f(300, "training epochs (paper: 300; 800 / 1600 for longer schedules)", min=1)
    warmup_epochs: float = _f(40.0, "linear lr warmup length in epochs (paper: 40)", min=0.0)
    max_steps: int | None = _f(None, "cap on optimizer steps (quick runs; the schedule spans the cap)", min=1)
    batch_size: int = _f(64, "images per device per micro-step", min=1)
    accum_steps: int = _f(1, "gradient accumulation micro-steps per optimizer step", min=1)
    base_lr: float = _f(1.5e-4, "lr per 256 images: lr = base_lr x effective batch / 256 (paper: 1.5e-4)",
                        min=0.0)
    lr: float | None = _f(None, "absolute peak lr (overrides base_lr scaling)", min=0.0)
    min_lr: float = _f(0.0, "lr at the end of the cosine decay", min=0.0)
    weight_decay: float = _f(0.05, "AdamW weight decay (paper: 0.05)", min=0.0)
    betas: tuple[float, float] = _f((0.9, 0.95), "AdamW betas (paper: 0.9, 0.95)")
    grad_clip: float | None = _f(None, "clip gradients to this global norm", min=0.0)
    amp: Literal["auto", "none", "bf16", "fp16"] = _f(
        "auto", "mixed precision (auto: bf16 on CUDA, none on CPU)")
    compile: bool = _f(False, "torch.compile the model")
    seed: int = _f(0, "seed of model init, data order, augmentation and masks", min=0)
    # bookkeeping
    ckpt_every: int = _f(1000, "write a checkpoint every N optimizer steps (0: only the final one)", min=0)
    keep_last: int = _f(3, "keep the newest K step checkpoints (0: keep all)", min=0)
    log_every: int = _f(10, "log metrics every N optimizer steps", min=1)


def config_keys(cls: type) -> dict[str, dataclasses.Field]:
    """The fields of a config dataclass by name."""
    return {f.name: f for f in dataclasses.fields(cls)}


def config_help(cls: type) -> str:
    """One line per key: ``name = default  help`` (for ``--help`` epilogs)."""
    lines = []
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        lines.append(f"  {f.name} = {_dump(default)}\n      {f.metadata.get('help', '')}")
    return "\n".join(lines)


def _dump(value: Any) -> str:
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def _parse_text(text: str) -> Any:
    """A command-line value: YAML when available (so lists work), else JSON, else the raw string."""
    try:
        import yaml
    except ImportError:
        try:
            return json.loads(text)
        except ValueError:
            return text
    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is not None:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, key: str) -> Any:
    """``value`` as type ``tp`` or a :class:`UserError` naming ``key``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)

    def bad(why: str = "") -> UserError:
        return UserError(f"config key {key!r}: {value!r} is not a valid {_type_name(tp)}{why}")

    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "~")):
            if type(None) in args:
                return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, key)
            except UserError as err:
                errors.append(err)
        raise errors[0] if len(errors) == 1 else bad()
    if origin is Literal:
        if value not in args:
            raise UserError(f"config key {key!r}: {value!r} is not one of {', '.join(map(str, args))}")
        return value
    if origin in (tuple, list):
        if isinstance(value, str):
            value = _parse_text(value)
        if not isinstance(value, (list, tuple)):
            raise bad()
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(coerce(v, args[0], key) for v in value)
            if len(value) != len(args):
                raise bad(f" (expected {len(args)} values)")
            return tuple(coerce(v, a, key) for v, a in zip(value, args, strict=True))
        return [coerce(v, args[0], key) for v in value] if args else list(value)
    if tp is bool:
        if isinstance(value, str):
            value = {"true": True, "yes": True, "on": True, "1": True,
                     "false": False, "no": False, "off": False, "0": False}.get(value.lower(), value)
        if not isinstance(value, bool):
            raise bad()
        return value
    if tp is int:
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                try:
                    value = float(value)
                except ValueError:
                    raise bad() from None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
        return value
    if tp is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise bad() from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        return float(value)
    if tp is str:
        if isinstance(value, (bool, list, dict, tuple)) or value is None:
            raise bad()
        return str(value)
    raise TypeError(f"config key {key!r}: unsupported field type {tp!r}")  # a programming error


def _check_bounds(value: Any, f: dataclasses.Field) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    meta = f.metadata
    if "min" in meta and value < meta["min"]:
        raise UserError(f"config key {f.name!r}: {value} is below the minimum {meta['min']}")
    if "max" in meta and value > meta["max"]:
        raise UserError(f"config key {f.name!r}: {value} is above the maximum {meta['max']}")
    if "below" in meta and value >= meta["below"]:
        raise UserError(f"config key {f.name!r}: {value} must be below {meta['below']}")


def _unknown(key: str, known: Iterable[str], where: str) -> UserError:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return UserError(f"unknown config key {key!r} {where}{hint}")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML file's top-level mapping (empty file: ``{}``)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such config file")
    try:
        import yaml
    except ImportError as err:
        raise UserError("reading YAML configs needs PyYAML (pip install pyyaml); "
                        "or pass settings as key=value") from err
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: a config must be a mapping of key: value lines")
    return data


def load_config(cls: type[T], path: str | Path | None = None, overrides: Iterable[str] = (),
                values: Mapping[str, Any] | None = None) -> T:
    """Build ``cls`` from defaults, then a YAML file, then ``values``, then ``key=value`` overrides."""
    fields = config_keys(cls)
    hints = typing.get_type_hints(cls)
    raw: dict[str, Any] = {}
    sources = []
    if path is not None:
        sources.append((read_yaml(path), f"in {path}"))
    if values:
        sources.append((dict(values), "in the given values"))
    parsed = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if not sep or not key:
            raise UserError(f"bad override {item!r}: expected key=value")
        parsed[key] = text
    sources.append((parsed, "on the command line"))
    for mapping, where in sources:
        for key, value in mapping.items():
            if key not in fields:
                raise _unknown(str(key), fields, where)
            raw[key] = value
    out = {}
    for key, value in raw.items():
        out[key] = coerce(value, hints[key], key)
        _check_bounds(out[key], fields[key])
    return cls(**out)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as a plain dict of JSON/YAML types (tuples become lists)."""

    def plain(v: Any) -> Any:
        return [plain(x) for x in v] if isinstance(v, (list, tuple)) else v

    return {k: plain(v) for k, v in dataclasses.asdict(cfg).items()}


def write_config(cfg: Any, path: str | Path) -> Path:
    """Write a config (dataclass or dict) as YAML (JSON if PyYAML is missing: also valid YAML)."""
    data = cfg if isinstance(cfg, dict) else config_to_dict(cfg)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import yaml
    except ImportError:
        text = json.dumps(data, indent=2) + "\n"
    else:
        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
    path.write_text(text, encoding="utf-8")
    return path
