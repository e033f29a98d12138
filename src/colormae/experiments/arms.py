"""The arms of a sweep: any grid (or list) of pretraining settings; the supplement's groups are presets.

An arm is a dict of settings. Its keys are pretraining settings (:class:`~colormae.jobs.pretrain.
PretrainConfig` fields: ``masking``, ``mask_ratio``, ``bank_size``, ``lr``, ...; ``ratio`` and
``num_patterns`` are aliases) or parameters of the arm's noise filter (``sigma1``, ``s2``, ``beta``, ``f0``,
... of :mod:`colormae.noise.spec`), which are folded into its masking: ``masking=green, sigma1=0.25`` trains
``filter:gauss:bandpass,s1=0.25,s2=2``. A filter parameter on an arm whose masking has no such parameter
(random or block masks, another family: ``sigma1`` on ``pink``) does not apply, so that arm is the plain
one. Arms whose settings come out the same are one run
(:class:`RunSpec`), whichever groups they appear in.

- ``grid``: ``{key: [values]}`` -> the cartesian product, in key order (group ``grid``).
- arm list: a list of dicts (group ``arms``; ``label`` names a row).
- presets: the groups of the supplement's Table 1 (ratio, patterns, noise, colour) and the transfer
  comparison, as lists of arms.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from colormae.errors import UserError
from colormae.jobs.sweep import GROUPS

#: Masking ratios of Table 1a (percent).
RATIOS = (20, 50, 75, 85, 90)
#: Bank sizes of Table 1b; 3072 is the official bank (paper, Sec. 4).
NUM_PATTERNS = (64, 512, 3072, 4096)
DEFAULT_PATTERNS = 3072
#: Row label -> masking name, Table 1c and the colour comparison.
NOISES = {"Uniform": "random", "White": "random-white"}
COLORS = {"Random": "random", "Blue": "blue", "Green": "green", "Purple": "purple", "Red": "red"}
#: Row label -> masking of the transfer comparison; ``none`` = no pretraining (random init).
TRANSFER = {"Random init": "none", "MAE": "random", "ColorMAE-G": "green"}
#: The masking of an arm that does not pretrain.
NO_PRETRAINING = "none"
#: Setting aliases of an arm.
ALIASES = {"ratio": "mask_ratio", "num_patterns": "bank_size", "patterns": "bank_size"}
#: Pretraining settings the sweep sets itself (one value for every arm: the sweep's own settings).
SWEEP_OWNED = ("out", "resume", "seed", "device", "threads", "progress", "max_steps", "epochs",
               "warmup_steps", "ckpt_every", "keep_last", "log_every", "num_workers", "model", "data",
               "batch_size", "pattern_size", "allow_changes")
_NOT_COLOR = ("random", "random-white", "block", NO_PRETRAINING)


@dataclass(frozen=True)
class RunSpec:
    """What an arm trains: a masking, its ratio, (noise masks only) the bank size, and any other
    pretraining settings ``extra`` (sorted ``(key, value)`` pairs)."""

    masking: str
    ratio: float
    num_patterns: int | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def key(self) -> str:
        """A file-name-safe id, equal for equal specs (``green-r75-n3072``; ``init``: no pretraining)."""
        if self.masking == NO_PRETRAINING:
            return "init"
        masking = re.sub(r"[^A-Za-z0-9.=+-]+", "_", self.masking.removeprefix("filter:"))
        key = f"{masking}-r{round(self.ratio * 100)}"
        key = key if self.num_patterns is None else f"{key}-n{self.num_patterns}"
        return key + "".join(f"-{k}{re.sub(r'[^A-Za-z0-9.+-]+', '_', str(v))}" for k, v in self.extra)

    @property
    def settings(self) -> dict[str, Any]:
        """The pretraining settings this spec sets (``masking``, ``mask_ratio``, ``bank_size``, extras)."""
        out: dict[str, Any] = {"masking": self.masking, "mask_ratio": self.ratio}
        if self.num_patterns is not None:
            out["bank_size"] = self.num_patterns
        return {**out, **dict(self.extra)}


@dataclass(frozen=True)
class Arm:
    """One row of the table: its group, its label in that group, and the run behind it."""

    group: str
    setting: str
    spec: RunSpec


def _pretrain_keys() -> set[str]:
    from colormae.jobs.pretrain import PretrainConfig

    return {f.name for f in fields(PretrainConfig)}


def arm_spec(settings: Mapping[str, Any]) -> RunSpec:
    """The run of one arm's settings (module docstring); UserError naming a key no run can take."""
    from colormae.noise.spec import PARAMETERS, parse_filter

    given = {ALIASES.get(str(k), str(k)): v for k, v in settings.items() if k != "label"}
    known = _pretrain_keys()
    for key in given:
        if key in SWEEP_OWNED:
            raise UserError(f"sweep arm setting {key!r} is the sweep's own (set it on the sweep: --{key})")
        if key not in known and key not in PARAMETERS:
            raise UserError(f"sweep arm setting {key!r} is neither a pretraining setting nor a noise filter "
                            f"parameter ({', '.join(PARAMETERS)})")
    masking = str(given.pop("masking", "green"))
    params = {k: given.pop(k) for k in list(given) if k in PARAMETERS and k not in known}
    params = {k: v for k, v in params.items() if _takes(masking, k)}
    if masking not in _NOT_COLOR:  # a colour name stays; any other family becomes filter:SPEC
        masking = parse_filter(masking).with_params(**params).masking
    ratio = float(given.pop("mask_ratio", 0.75))
    bank_size = int(given.pop("bank_size", DEFAULT_PATTERNS))
    is_noise = masking not in _NOT_COLOR
    if masking == NO_PRETRAINING:
        return RunSpec(NO_PRETRAINING, 0.75)
    return RunSpec(masking, ratio, bank_size if is_noise else None, tuple(sorted(given.items())))


def _label(arm: Mapping[str, Any], varying: Sequence[str]) -> str:
    if "label" in arm:
        return str(arm["label"])
    keys = varying or [k for k in arm if k != "label"]
    return " ".join(f"{k}={arm[k]}" for k in keys) or "default"


def _takes(masking: str, key: str) -> bool:
    """Whether the noise filter of ``masking`` has the parameter ``key`` (none for random or block)."""
    from colormae.noise.spec import ALIASES as PARAM_ALIASES
    from colormae.noise.spec import FAMILIES, parse_filter

    if masking in _NOT_COLOR:
        return False
    filt = parse_filter(masking)
    key = PARAM_ALIASES.get(key, key)
    if filt.family == "gauss":
        return key in (("s", "smin", "smax") if filt.option in ("lowpass", "highpass") else ("s1", "s2"))
    return key in FAMILIES.get(filt.family, ((), ()))[1]


def _applies(arm: Mapping[str, Any], key: str) -> bool:
    """Whether ``key`` changes ``arm``'s run (a filter parameter does not where the arm's masking has no
    such parameter: random or block masks, another family)."""
    from colormae.noise.spec import PARAMETERS

    if key not in PARAMETERS or key in _pretrain_keys():
        return True
    return _takes(str(arm.get("masking", "green")), key)


def expand_grid(grid: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``{key: [values]}`` -> one dict per combination, the first key varying slowest (a scalar is a
    one-value list)."""
    keys = list(grid)
    values = [v if isinstance(v, (list, tuple)) else [v] for v in grid.values()]
    if any(len(v) == 0 for v in values):
        raise UserError(f"sweep grid key {keys[[len(v) for v in values].index(0)]!r} has no values")
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def preset_arms(group: str) -> list[tuple[str, dict[str, Any]]]:
    """The ``(label, settings)`` arms of one named group."""
    if group == "ratio":
        return [(str(r), {"masking": "green", "mask_ratio": r / 100}) for r in RATIOS]
    if group == "patterns":
        return [(str(n), {"masking": "green", "bank_size": n}) for n in NUM_PATTERNS]
    table = {"noise": NOISES, "color": COLORS, "transfer": TRANSFER}[group]
    return [(label, {"masking": name}) for label, name in table.items()]


def build_arms(groups: Iterable[str | Mapping[str, Any]] | None = None,
               grid: Mapping[str, Any] | None = None) -> list[Arm]:
    """The arms of the named groups (table order), of the dicts among ``groups`` (group ``arms``) and of
    the ``grid`` (group ``grid``). ``groups`` None: Table 1's groups unless a grid is given."""
    from colormae.jobs.sweep import TABLE1_GROUPS

    entries = list(TABLE1_GROUPS if groups is None and not grid else groups or [])
    names = [g for g in entries if isinstance(g, str)]
    unknown = [g for g in names if g not in GROUPS]
    if unknown:
        raise UserError(f"unknown sweep arm group {unknown[0]!r}; choose from {', '.join(GROUPS)} or give "
                        "arms as settings (a list of dicts) or grid.KEY=[...]")
    arms = [Arm(g, label, arm_spec(s)) for g in GROUPS if g in names for label, s in preset_arms(g)]
    listed = [dict(g) for g in entries if isinstance(g, Mapping)]
    arms += [Arm("arms", _label(a, []), arm_spec(a)) for a in listed]
    if grid:
        varying = [k for k, v in grid.items() if isinstance(v, (list, tuple)) and len(v) > 1]
        arms += [Arm("grid", _label(a, [k for k in varying if _applies(a, k)]), arm_spec(a))
                 for a in expand_grid(grid)]
    if not arms:
        raise UserError("the sweep has no arms: name groups (arms=[color]), list arms or give grid.KEY=[...]")
    return _dedupe_labels(arms)


def _dedupe_labels(arms: list[Arm]) -> list[Arm]:
    """Drop repeated (group, spec) rows: a grid point that folds onto an earlier one (random x sigma1)."""
    seen: set[tuple[str, RunSpec]] = set()
    out = []
    for arm in arms:
        if (arm.group, arm.spec) not in seen:
            seen.add((arm.group, arm.spec))
            out.append(arm)
    return out


def unique_specs(arms: Sequence[Arm]) -> list[RunSpec]:
    """The distinct runs behind ``arms``, in first-seen order."""
    return list(dict.fromkeys(a.spec for a in arms))
