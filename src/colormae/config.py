"""One config system for every job: a dataclass per job, declared once, read from YAML, flags and
``key=value``.

A job's settings are the fields of one dataclass, each declared with :func:`setting` (default, help
text, role, checks). From that dataclass :func:`add_config_arguments` generates the command line
(``--config FILE``, a ``--flag`` per field, positional fields, and ``key=value`` overrides) and
:func:`load_config` builds the typed object from defaults, then a YAML file, then given values, then
overrides. One place turns strings into typed values (:func:`coerce`: ``int``, ``float``, ``bool``,
``str``, ``Literal[...]``, ``X | None``, tuples and lists of those) and checks bounds; unknown keys and
bad values raise :class:`~colormae.errors.UserError` naming the key. The job function takes the config
object; below the job, functions take explicit arguments.

The recipes shipped with the package (:data:`RECIPES`; ``configs/`` in the repository links there) are
the one source of their settings: the demo reads them too, and ``--config NAME`` finds one by name.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from colormae.errors import UserError

T = TypeVar("T")


#: What a setting is for, which decides how ``--resume`` and ``config.yaml`` treat it:
#: ``train`` changes what is trained (refused on resume unless ``--allow-changes``; saved);
#: ``run`` is bookkeeping that may change on resume (intervals, workers, length; saved);
#: ``io`` is where and how this one invocation runs (paths, device, progress; not saved).
ROLES = ("train", "run", "io")


def setting(default: Any, help: str, *, role: str = "train", positional: bool = False,
            required: bool = False, const: Any = None, metavar: str | None = None, **bounds: float) -> Any:
    """A config field declared once: its default, help text, role and checks.

    ``positional``: a command-line argument without a flag (e.g. ``CKPT``); ``required``: the job refuses
    to start without a value; ``const``: the value of the bare flag (``--resume`` alone means
    ``"auto"``); ``bounds``: ``min`` / ``max`` (inclusive) and ``below`` (exclusive) for numbers.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")  # a programming error
    meta = {"help": help, "role": role, "positional": positional, "required": required, "const": const,
            "metavar": metavar, **bounds}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


def config_keys(cls: type) -> dict[str, dataclasses.Field]:
    """The fields of a config dataclass by name."""
    return {f.name: f for f in dataclasses.fields(cls)}


def default_of(f: dataclasses.Field) -> Any:
    """A field's default value."""
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def role_of(f: dataclasses.Field) -> str:
    """A field's role (see :data:`ROLES`); ``train`` when undeclared."""
    return f.metadata.get("role", "train")


def _dump(value: Any) -> str:
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def _parse_text(text: str) -> Any:
    """A command-line value read as YAML (so lists work), else the raw string."""
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
    if tp is typing.Any:  # a command-line value read as YAML, anything else as given
        return _parse_text(value) if isinstance(value, str) else value
    if origin is dict:
        if isinstance(value, str):
            value = _parse_text(value)
        if not isinstance(value, Mapping):
            raise bad()
        return {str(k): coerce(v, args[1], f"{key}.{k}") if args else v for k, v in value.items()}
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


#: The recipes shipped with the package, ``NAME.yaml`` each.
RECIPES = Path(__file__).parent / "configs"


def recipe(name: str) -> Path:
    """The shipped recipe ``name`` (``cpu_demo`` or ``cpu_demo.yaml``), installed or in the repository."""
    path = RECIPES / (name if name.endswith(".yaml") else f"{name}.yaml")
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RECIPES.glob("*.yaml")))
        raise UserError(f"no shipped recipe {name!r} (the recipes: {known})")
    return path


def config_file(path: str | Path) -> Path:
    """``--config``'s file: ``path`` itself, or for a bare name with no such file, the shipped recipe."""
    path = Path(path)
    if path.is_file() or path.parent != Path(".") or path.suffix not in ("", ".yaml"):
        return path
    return recipe(path.name) if (RECIPES / f"{path.stem}.yaml").is_file() else path


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML file's top-level mapping (empty file: ``{}``)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such config file")
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
    """Build ``cls`` from defaults, then a YAML file (or a shipped recipe's name), then ``values``, then
    ``key=value`` overrides."""
    fields = config_keys(cls)
    hints = typing.get_type_hints(cls)
    raw: dict[str, Any] = {}
    sources = []
    if path is not None:
        path = config_file(path)
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
            top, dot, sub = str(key).partition(".")
            if dot and top in fields and typing.get_origin(hints[top]) is dict:  # ``grid.masking=[...]``
                raw[top] = {**(raw.get(top) or {}), sub: value}
                continue
            if key not in fields:
                raise _unknown(str(key), fields, where)
            raw[key] = value
    out = {}
    for key, value in raw.items():
        out[key] = coerce(value, hints[key], key)
        _check_bounds(out[key], fields[key])
    return cls(**out)


def _plain(v: Any) -> Any:
    return [_plain(x) for x in v] if isinstance(v, (list, tuple)) else v


def config_to_dict(cfg: Any, roles: Iterable[str] = ROLES) -> dict[str, Any]:
    """A config dataclass as a plain dict of JSON/YAML types (tuples become lists), fields of ``roles``."""
    roles = tuple(roles)
    return {f.name: _plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg) if role_of(f) in roles}


def saved_config(cfg: Any) -> dict[str, Any]:
    """What a run records in ``config.yaml`` and its checkpoints: the ``train`` and ``run`` settings."""
    return config_to_dict(cfg, roles=("train", "run"))


def changed_settings(before: Mapping[str, Any], cfg: Any, roles: Iterable[str] = ("train",)
                     ) -> list[tuple[str, Any, Any]]:
    """``(key, before, now)`` for each setting of ``roles`` whose value in ``cfg`` differs from ``before``
    (a saved config; keys it lacks count as their defaults)."""
    roles = tuple(roles)
    changed = []
    for f in dataclasses.fields(cfg):
        if role_of(f) not in roles:
            continue
        old, now = _plain(before.get(f.name, default_of(f))), _plain(getattr(cfg, f.name))
        if old != now:
            changed.append((f.name, old, now))
    return changed


def check_required(cfg: Any) -> None:
    """Refuse a config whose ``required`` settings are unset, naming the first."""
    for f in dataclasses.fields(cfg):
        if f.metadata.get("required") and getattr(cfg, f.name) in (None, ""):
            name = f.name.upper() if f.metadata.get("positional") else "--" + f.name.replace("_", "-")
            raise UserError(f"{name} is required ({f.metadata.get('help', '')})")


# ------------------------------------------------------------------------------------ command line
def add_config_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Generate ``cls``'s command line: ``--config FILE``, positional fields, one ``--flag`` per field.

    Flags store raw strings under the field name (coerced later by :func:`config_from_args`, so a flag
    and a ``key=value`` are checked the same way); ``bool`` fields get ``--flag`` / ``--no-flag``.
    ``key=value`` overrides are the command's leftover arguments (see :func:`split_overrides`).
    """
    hints = typing.get_type_hints(cls)
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="YAML file of settings (keys as the flags below, with underscores), or the "
                             "name of a shipped recipe (cpu_demo, ...)")
    for f in dataclasses.fields(cls):
        meta = f.metadata
        default = default_of(f)
        shown = "" if default in (None, "") else f" (default: {_dump(default)})"
        text = (meta.get("help", "") + shown).replace("%", "%%")  # argparse formats help with %
        if meta.get("positional"):
            parser.add_argument(f.name, metavar=meta.get("metavar") or f.name.upper(), nargs="?",
                                default=argparse.SUPPRESS, help=text)
            continue
        flag = "--" + f.name.replace("_", "-")
        if hints[f.name] is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS, help=text)
            continue
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": text,
                                  "metavar": meta.get("metavar") or _metavar(hints[f.name])}
        if meta.get("const") is not None:
            kwargs.update(nargs="?", const=meta["const"])
        parser.add_argument(flag, **kwargs)


def _metavar(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return "{" + ",".join(map(str, args)) + "}"
    if origin in (typing.Union, types.UnionType):
        return _metavar(next(a for a in args if a is not type(None)))
    return {int: "N", float: "X", str: "VALUE", bool: "BOOL"}.get(tp, "VALUE")


def split_overrides(extra: Iterable[str]) -> tuple[list[str], list[str]]:
    """Leftover command-line words as ``(key=value overrides, anything else)``."""
    overrides, rest = [], []
    for word in extra:
        (overrides if "=" in word and not word.startswith("-") else rest).append(word)
    return overrides, rest


def config_from_args(cls: type[T], args: argparse.Namespace, overrides: Iterable[str] = (),
                     base: Mapping[str, Any] | None = None) -> T:
    """Build ``cls`` from parsed arguments: defaults, ``base`` (e.g. a run's saved config), ``--config``,
    then the flags and ``key=value`` overrides given. A positional value that reads ``key=value`` for a
    known key is taken as an override (``colormae knn k=5 runs/x`` and ``--resume lr=1`` work)."""
    keys = config_keys(cls)
    given = {k: v for k, v in vars(args).items() if k in keys}
    overrides = list(overrides)
    for f in keys.values():  # ``CKPT`` or ``--resume [PATH]`` that swallowed a ``key=value``
        value = given.get(f.name)
        optional_value = f.metadata.get("positional") or f.metadata.get("const") is not None
        if optional_value and isinstance(value, str) and value.partition("=")[0].strip() in keys \
                and "=" in value:
            overrides.insert(0, value)
            if f.metadata.get("const") is not None:
                given[f.name] = f.metadata["const"]
            else:
                del given[f.name]
    values = dict(base or {})
    path = getattr(args, "config", None)
    if path is not None:
        values.update(read_yaml(config_file(path)))
    flags = [f"{k}={v}" if not isinstance(v, bool) else f"{k}={str(v).lower()}" for k, v in given.items()]
    cfg = load_config(cls, values=values, overrides=[*flags, *overrides])
    return cfg


def config_yaml(cfg: Any) -> str:
    """A config (dataclass or dict) as the YAML text ``--config`` reads back (a run's ``config.yaml``,
    written with :func:`colormae.files.atomic_write_text`)."""
    data = cfg if isinstance(cfg, dict) else config_to_dict(cfg)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
