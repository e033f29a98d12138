"""Noise families as one object, :class:`NoiseFilter`, and the spec strings that name them.

Grammar (parsed here only, :func:`parse_filter`; an optional leading ``filter:`` is dropped)::

    SPEC   := HEAD [":" ITEM ("," ITEM)*]        ITEM := WORD | KEY "=" NUMBER
    HEAD   := white | uniform | gauss | ring | powerlaw | table | PRESET

- ``gauss:KIND,...`` with KIND ``lowpass`` / ``highpass`` (``s=S``, or ``smin=LO,smax=HI``: a σ drawn per
  pattern) or ``bandpass`` / ``bandstop`` (``s1=S1,s2=S2``); the Gaussian filters of
  :mod:`colormae.noise.filters` (ColorMAE supplement, Sec. 1). ``sigma`` / ``sigma1`` / ``sigma2`` are
  aliases of ``s`` / ``s1`` / ``s2``.
- ``ring:f0=F0,width=W[,smooth]``: an annulus at ``F0`` cycles per pixel, ideal (default) or smooth.
- ``powerlaw:beta=B``: power ``1 / f^B`` (pink 1, brown 2, blue -1, violet -2).
- ``table:FILE.csv``: gain interpolated between ``frequency,gain`` rows (cycles / pixel, ascending; a
  header line is skipped).
- Presets: ``red`` = ``gauss:lowpass,smin=0.5,smax=2``, ``blue`` = ``gauss:highpass,smin=0.5,smax=2``,
  ``green`` = ``gauss:bandpass,s1=0.5,s2=2``, ``purple`` = ``gauss:bandstop,s1=0.5,s2=2`` (the paper's four
  colours, drawn exactly as :func:`colormae.noise.generate_patterns` draws them: same seed, same bank),
  ``pink`` / ``brown`` / ``violet`` = ``powerlaw:beta=1`` / ``2`` / ``-2``. A preset takes overrides:
  ``green:s1=0.25``.

A Python callable ``gain(f) -> gain`` (``f``: radial frequencies ``(H, W)`` float64) is a filter too:
:meth:`NoiseFilter.from_callable`. Gaussian families keep their (unnormalised) Gaussian transfer; the
radial families are scaled to unit variance (:func:`colormae.noise.radial_transfer`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from colormae.errors import UserError
from colormae.noise.filters import color_transfer, powerlaw_gain, radial_transfer, ring_gain, table_gain

#: Families a spec can name, and the options (bare words) / numeric keys each accepts.
FAMILIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "white": ((), ()), "uniform": ((), ()),
    "gauss": (("lowpass", "highpass", "bandpass", "bandstop"), ("s", "smin", "smax", "s1", "s2")),
    "ring": (("ideal", "smooth"), ("f0", "width")),
    "powerlaw": ((), ("beta",)),
    "table": ((), ()),
}
ALIASES = {"sigma": "s", "sigma1": "s1", "sigma2": "s2", "sigma_min": "smin", "sigma_max": "smax"}
PRESETS = {
    "red": "gauss:lowpass,smin=0.5,smax=2", "blue": "gauss:highpass,smin=0.5,smax=2",
    "green": "gauss:bandpass,s1=0.5,s2=2", "purple": "gauss:bandstop,s1=0.5,s2=2",
    "pink": "powerlaw:beta=1", "brown": "powerlaw:beta=2", "violet": "powerlaw:beta=-2",
    "white": "white", "uniform": "uniform",
}
#: Every numeric parameter name a spec (or a sweep grid) may set.
PARAMETERS = tuple(sorted({k for _, keys in FAMILIES.values() for k in keys} | set(ALIASES)))
_GAUSS_COLOR = {"lowpass": "red", "highpass": "blue", "bandpass": "green", "bandstop": "purple"}
_KIND_DEFAULTS = {"lowpass": {"smin": 0.5, "smax": 2.0}, "highpass": {"smin": 0.5, "smax": 2.0},
                  "bandpass": {"s1": 0.5, "s2": 2.0}, "bandstop": {"s1": 0.5, "s2": 2.0}}


def _num(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class NoiseFilter:
    """A noise family with its parameters: what a pattern bank or online masks are made of.

    Attributes:
        family: one of :data:`FAMILIES` or ``"callable"``.
        option: the family's option word (``"bandpass"``, ``"smooth"``, ...) or ``""``.
        params: sorted ``(key, value)`` numeric parameters.
        path: the CSV of a ``table`` filter; ``points``: its ``(freqs, gains)``.
        gain: the function of a ``callable`` filter; ``label``: its name.
    """

    family: str
    option: str = ""
    params: tuple[tuple[str, float], ...] = ()
    path: str | None = None
    points: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    gain: Callable[[torch.Tensor], torch.Tensor] | None = None
    label: str | None = None

    @classmethod
    def from_callable(cls, gain: Callable[[torch.Tensor], torch.Tensor], label: str = "callable"
                      ) -> NoiseFilter:
        """A filter whose gain is ``gain(f)``: radial frequencies ``(H, W)`` float64 in, gains out."""
        if not callable(gain):
            raise UserError(f"a callable noise filter needs a function, got {type(gain).__name__}")
        return cls("callable", gain=gain, label=label)

    # -- naming ---------------------------------------------------------------------------------------
    @property
    def spec(self) -> str:
        """The canonical spec string (parses back to an equal filter; a callable's is its label)."""
        if self.family == "callable":
            return f"callable:{self.label}"
        if self.family == "table":
            return f"table:{self.path}"
        items = ([self.option] if self.option else []) + [f"{k}={_fmt(v)}" for k, v in self.params]
        return self.family + (":" + ",".join(items) if items else "")

    @property
    def name(self) -> str:
        """The preset's name when the filter equals one (``green``), else the canonical spec."""
        for preset, spec in PRESETS.items():
            if parse_filter(spec) == self:
                return preset
        return self.spec

    @property
    def masking(self) -> str:
        """The ``masking=`` value of this filter: a colour name, else ``filter:SPEC``."""
        name = self.name
        return name if name in ("red", "blue", "green", "purple", "white") else f"filter:{self.spec}"

    def with_params(self, **params: Any) -> NoiseFilter:
        """The same family with some parameters replaced (aliases accepted); UserError for foreign ones."""
        if not params:
            return self
        head = PRESETS.get(self.name, self.spec) if self.family not in ("table", "callable") else None
        if head is None:
            raise UserError(f"noise filter {self.spec}: takes no parameters ({', '.join(params)})")
        extra = ",".join(f"{k}={_fmt(v)}" for k, v in params.items())
        return parse_filter(head + ("," if ":" in head else ":") + extra)

    @property
    def color(self) -> str | None:
        """The colour of :func:`colormae.noise.generate_patterns` this filter is drawn as (white, uniform and
        the Gaussian families), else None (drawn through :meth:`transfer`)."""
        if self.family in ("white", "uniform"):
            return self.family
        return _GAUSS_COLOR[self.option] if self.family == "gauss" else None

    @property
    def sigmas(self) -> dict[str, Any]:
        """The σ options of :attr:`color` (``sigma_range`` or ``sigma1`` / ``sigma2``)."""
        p = dict(self.params)
        if self.family != "gauss":
            return {}
        if self.option in ("lowpass", "highpass"):
            return {"sigma_range": (p["s"], p["s"])} if "s" in p else {"sigma_range": (p["smin"], p["smax"])}
        return {"sigma1": p["s1"], "sigma2": p["s2"]}

    # -- responses ------------------------------------------------------------------------------------
    def radial_gain(self, f: torch.Tensor) -> torch.Tensor:
        """The gain of a radial family at radial frequencies ``f`` (cycles / pixel), any shape."""
        p = dict(self.params)
        if self.family == "powerlaw":
            return powerlaw_gain(f, p["beta"])
        if self.family == "ring":
            return ring_gain(f, p["f0"], p["width"], smooth=self.option == "smooth")
        if self.family == "table":
            return table_gain(f, *self.points)
        if self.family == "callable":
            return self.gain(f)
        raise ValueError(f"{self.spec} is not a radial family")  # a programming error

    def transfer(self, shape: tuple[int, int], *, device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``(1, H, W)`` transfer function of a radial family (unit variance; see the module docstring)."""
        try:
            return radial_transfer(self.radial_gain, shape, device=device, dtype=dtype)
        except ValueError as err:
            raise UserError(f"noise filter {self.spec}: {err}") from None

    def intended_power(self, shape: tuple[int, int]) -> torch.Tensor:
        """``(H, W)`` float64 expected power of the filtered noise at each ``fft2`` bin (N(0, 1) white = 1).

        Gaussian lowpass / highpass with a σ range average ``T^2`` over 33 σ's evenly spaced in the range
        (σ is uniform per pattern); uniform noise has the power of U[0, 1) values without their mean.
        """
        if self.family in ("white", "uniform"):
            level = 1.0 if self.family == "white" else 1.0 / 12.0
            return torch.full(shape, level, dtype=torch.float64)
        if self.family != "gauss":
            return self.transfer(shape)[0] ** 2
        sig = self.sigmas
        if "sigma_range" in sig:
            lo, hi = sig["sigma_range"]
            grid = torch.linspace(lo, hi, 33 if hi > lo else 1, dtype=torch.float64)
            t = color_transfer(self.color, shape, sigma=grid)
            return (t ** 2).mean(0)
        return color_transfer(self.color, shape, sigma1=sig["sigma1"], sigma2=sig["sigma2"])[0] ** 2


# ------------------------------------------------------------------------------------------ parsing
def parse_filter(spec: str | NoiseFilter) -> NoiseFilter:
    """The :class:`NoiseFilter` a spec string names (see the module docstring); UserError, one line, when
    it names none."""
    if isinstance(spec, NoiseFilter):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise UserError(f"noise filter spec must be a non-empty string, got {spec!r}")
    text = spec.strip()
    text = text[len("filter:"):] if text.startswith("filter:") else text
    head, _, rest = text.partition(":")
    head = head.strip().lower()
    if head == "table":
        return _table(rest.strip(), spec)
    if head in PRESETS and head not in FAMILIES:
        base = PRESETS[head]
        return parse_filter(base + ("," if ":" in base else ":") + rest if rest.strip() else base)
    if head not in FAMILIES:
        known = ", ".join([*FAMILIES, *(p for p in PRESETS if p not in FAMILIES)])
        raise UserError(f"noise filter {spec!r}: unknown family {head!r}; choose one of {known}")
    options, keys = FAMILIES[head]
    option, params = "", {}
    for item in (i.strip() for i in rest.split(",") if i.strip()):
        key, eq, value = item.partition("=")
        key = ALIASES.get(key.strip().lower(), key.strip().lower())
        if not eq:
            if key not in options:
                raise UserError(f"noise filter {spec!r}: unknown option {key!r} for {head} "
                                f"(options: {', '.join(options) or 'none'})")
            option = key
            continue
        if key not in keys:
            raise UserError(f"noise filter {spec!r}: unknown parameter {key!r} for {head} "
                            f"(parameters: {', '.join(keys) or 'none'})")
        try:
            params[key] = _num(value.strip())
        except ValueError:
            raise UserError(f"noise filter {spec!r}: {key} must be a number, got {value.strip()!r}") from None
        if not math.isfinite(params[key]):
            raise UserError(f"noise filter {spec!r}: {key} must be finite, got {value.strip()!r}")
    return _checked(head, option, params, spec)


def _checked(family: str, option: str, params: dict[str, float], spec: str) -> NoiseFilter:
    """Fill defaults and check ranges of one family's parameters."""
    def need(*names: str) -> None:
        missing = [n for n in names if n not in params]
        if missing:
            raise UserError(f"noise filter {spec!r}: {family} needs {', '.join(f'{m}=' for m in missing)}")

    def positive(*names: str) -> None:
        for n in names:
            if n in params and not params[n] > 0:
                raise UserError(f"noise filter {spec!r}: {n} must be positive, got {params[n]}")

    if family == "gauss":
        if not option:
            raise UserError(f"noise filter {spec!r}: gauss needs a kind: lowpass, highpass, bandpass or "
                            "bandstop")
        allowed = ("s", "smin", "smax") if option in ("lowpass", "highpass") else ("s1", "s2")
        foreign = [k for k in params if k not in allowed]
        if foreign:
            raise UserError(f"noise filter {spec!r}: gauss {option} takes {', '.join(allowed)}, "
                            f"not {foreign[0]}")
        if "s" in params:
            params.pop("smin", None), params.pop("smax", None)
        else:
            params = {**_KIND_DEFAULTS[option], **params}
        positive(*params)
        if params.get("smin", 0) > params.get("smax", math.inf):
            raise UserError(f"noise filter {spec!r}: smin must be <= smax")
    elif family == "ring":
        need("f0", "width")
        positive("width")
        if params["f0"] < 0:
            raise UserError(f"noise filter {spec!r}: f0 must be >= 0 cycles per pixel")
        option = option if option == "smooth" else ""
    elif family == "powerlaw":
        need("beta")
    return NoiseFilter(family, option, tuple(sorted((k, float(v)) for k, v in params.items())))


def _table(path: str, spec: str) -> NoiseFilter:
    """A ``table`` filter from a CSV of ``frequency,gain`` rows."""
    import numpy as np

    if not path:
        raise UserError(f"noise filter {spec!r}: table needs a file, table:FILE.csv")
    file = Path(path)
    if not file.is_file():
        raise UserError(f"noise filter {spec!r}: {file}: no such file")
    rows = [r for r in file.read_text().splitlines() if r.strip() and not r.lstrip().startswith("#")]
    if rows and not _is_numeric(rows[0]):
        rows = rows[1:]  # a header line
    try:
        points = [tuple(float(v) for v in r.split(",")) for r in rows]
    except ValueError:
        raise UserError(f"{file}: expected rows 'frequency,gain' of numbers (one header line "
                        "allowed)") from None
    if len(points) < 2 or any(len(p) != 2 for p in points):
        raise UserError(f"{file}: a gain table needs at least two rows 'frequency,gain'")
    freqs, gains = (np.asarray(c, dtype=np.float64) for c in zip(*points, strict=True))
    if np.any(np.diff(freqs) <= 0) or freqs[0] < 0 or not np.all(np.isfinite(gains)):
        raise UserError(f"{file}: frequencies must be >= 0 and strictly increasing, gains finite")
    return NoiseFilter("table", path=str(file), points=(tuple(freqs.tolist()), tuple(gains.tolist())))


def _is_numeric(row: str) -> bool:
    try:
        [float(v) for v in row.split(",")]
    except ValueError:
        return False
    return True


def describe_params(params: Mapping[str, Any]) -> str:
    """``"s1=0.25,s2=2"`` for the sweep's labels."""
    return ",".join(f"{k}={_fmt(v)}" for k, v in params.items())
