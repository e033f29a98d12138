"""A bank of noise patterns with its metadata, and its ``.npz`` file format.

File format (``np.savez``, read with ``allow_pickle=False``):

- ``patterns``: ``(N, H, W)`` float32 or float16.
- ``colormae_bank``: a 0-d unicode array holding JSON ``{"format_version", "color", "seed", "sigmas"}``
  (``sigmas`` holds the scalar σ options, e.g. ``{"sigma1": 0.5, "sigma2": 2.0}``) and, for a bank made
  from a noise filter (:meth:`PatternBank.from_filter`), ``"filter"``: its canonical spec
  (:mod:`colormae.noise.spec`) and, for a gain table, ``"filter_points"``: its ``[freqs, gains]``.
- ``sigmas.<name>``: array-valued σ metadata, e.g. ``sigmas.sigma``: the ``(N,)`` σ each red / blue
  pattern was filtered with.

The official ColorMAE downloads are one float array ``(N, H, W)`` in an ``.npz`` under any key; they load
too (colour, σ's and seed unknown). Whatever the official loader accepts loads, with a
:class:`BankWarning` naming the file where it differs from a clean bank:

- several arrays and no colormae metadata: the first array is the bank (the official loader takes
  ``npz.files[0]``);
- integer (or bool) arrays: quantized values tie at the keep / mask cut (8 bits: ~60 % of 14x14 windows
  at 75 % masking), which leaves the choice among tied patches to the sort's index order. Each value gets
  a fixed pseudo-random jitter in ``[0, 0.5)`` (seeded with :data:`TIE_BREAK_SEED`, per pattern and
  position), below half the quantization step: distinct values keep their order
  (``floor(loaded) == stored``), ties are broken the same way on every load, so masks keep their exact
  count and are deterministic. Held as float32 this separates every tie of values up to 2^16 in
  magnitude; a bank held as float16 on the device (``bank_dtype="float16"``) keeps only ~3 bits of it.

Our own banks are written as float32 or float16 only. Patterns are held as float32 in memory whatever
the file stored.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colormae.errors import UserError
from colormae.noise.generate import sample_filter, sample_patterns

#: Version of the ``.npz`` layout written by :meth:`PatternBank.save`.
FORMAT_VERSION = 1
META_KEY = "colormae_bank"
PATTERNS_KEY = "patterns"
SIGMA_ARRAY_PREFIX = "sigmas."
STORAGE_DTYPES = {"float32": np.float32, "float16": np.float16}
#: Patterns checked for NaN / inf at once (bounds the boolean temporary).
_CHECK_CHUNK = 256
#: Seed of the tie-breaking jitter added to integer banks on load (fixed: the same masks every load).
TIE_BREAK_SEED = 20240929
#: Patterns converted at once when jittering an integer bank (bounds the float64 temporaries).
_JITTER_CHUNK = 64


class PatternFileError(UserError):
    """A pattern bank file that cannot be used; the message names the file and the problem."""


class BankWarning(UserWarning):
    """A bank file that loads, but not as a clean colormae bank would (the message names the file)."""


def _check_patterns(patterns: torch.Tensor, where: str, error: type[UserError] = UserError) -> None:
    """Raise ``error`` (one line starting with ``where``) unless ``patterns`` is a usable (N, H, W) bank."""
    if patterns.dim() != 3:
        raise error(f"{where}: expected patterns of rank 3 (N, H, W), got shape {tuple(patterns.shape)}")
    if patterns.numel() == 0:
        raise error(f"{where}: the pattern array is empty (shape {tuple(patterns.shape)})")
    for start in range(0, patterns.shape[0], _CHECK_CHUNK):
        if not bool(torch.isfinite(patterns[start:start + _CHECK_CHUNK]).all()):
            raise error(f"{where}: patterns contain NaN or inf values")


def _dtype_problem(dtype: np.dtype) -> str | None:
    """Why a stored array of ``dtype`` cannot be a pattern bank, or None if it can."""
    return None if dtype.kind in "fiub" else f"non-numeric dtype {dtype}"


def _break_ties(array: np.ndarray) -> np.ndarray:
    """An integer ``(N, H, W)`` array as float32 plus a fixed jitter in ``[0, 0.5)`` (module docstring).

    Converted ``_JITTER_CHUNK`` patterns at a time; the jitter depends only on the pattern's index and
    shape, not on the chunking's memory or on the machine (a seeded CPU generator).
    """
    out = np.empty(array.shape, dtype=np.float32)
    gen = torch.Generator().manual_seed(TIE_BREAK_SEED)
    for start in range(0, array.shape[0], _JITTER_CHUNK):
        part = array[start:start + _JITTER_CHUNK]
        jitter = torch.rand(part.shape, generator=gen, dtype=torch.float64).numpy()
        out[start:start + _JITTER_CHUNK] = part.astype(np.float64) + 0.5 * jitter
    return out


class PatternBank:
    """Noise patterns ``(N, H, W)`` and where they came from.

    Attributes:
        patterns: ``(N, H, W)`` float tensor.
        color: the noise colour, or None when unknown (an official file).
        sigmas: σ metadata, e.g. ``{"sigma1": 0.5, "sigma2": 2.0}`` or ``{"sigma_range": (0.5, 2.0),
            "sigma": Tensor (N,)}``; ``{}`` when none or unknown.
        seed: the seed the bank was generated with, or None.
        source: the file it was loaded from, or None.
        stored_dtype: the dtype in that file (``"float16"``, ...), or None.
        filter: the canonical noise-filter spec it was made from (``"powerlaw:beta=2"``), or None;
        filter_points: a gain table's ``(freqs, gains)``, or None.
    """

    def __init__(self, patterns: torch.Tensor | np.ndarray, *, color: str | None = None,
                 sigmas: dict[str, Any] | None = None, seed: int | None = None,
                 source: str | Path | None = None, stored_dtype: str | None = None,
                 check: bool = True) -> None:
        if isinstance(patterns, np.ndarray):
            patterns = torch.from_numpy(patterns)
        if not isinstance(patterns, torch.Tensor) or not patterns.is_floating_point():
            got = getattr(patterns, "dtype", type(patterns).__name__)
            raise UserError(f"patterns must be a floating-point tensor, got {got}")
        self.source = Path(source) if source is not None else None
        if check:
            _check_patterns(patterns, str(self.source or "pattern bank"))
        self.patterns = patterns
        self.color = color
        self.sigmas = dict(sigmas or {})
        self.seed = seed
        self.stored_dtype = stored_dtype
        self.filter: str | None = None
        self.filter_points: tuple | None = None

    # -- making ---------------------------------------------------------------------------------------
    @classmethod
    def generate(cls, color: str, count: int, size: int | tuple[int, int], *, seed: int | None = None,
                 generator: torch.Generator | None = None, device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float32, progress: bool = False, **sigmas: Any) -> PatternBank:
        """A bank of ``count`` patterns of ``color``; see :func:`colormae.noise.generate_patterns`."""
        patterns, meta = sample_patterns(color, count, size, seed=seed, generator=generator, device=device,
                                         dtype=dtype, progress=progress, **sigmas)
        return cls(patterns, color=color, sigmas=meta, seed=seed, check=False)

    @classmethod
    def from_filter(cls, noise: Any, count: int, size: int | tuple[int, int], *, seed: int | None = None,
                    generator: torch.Generator | None = None, device: torch.device | str | None = None,
                    dtype: torch.dtype = torch.float32, progress: bool = False) -> PatternBank:
        """A bank of any noise family (spec string or :class:`~colormae.noise.spec.NoiseFilter`); its colour
        is the preset's name (``green``: the same bank as :meth:`generate`) or the canonical spec."""
        from colormae.noise.spec import parse_filter

        filt = parse_filter(noise)
        patterns, meta = sample_filter(filt, count, size, seed=seed, generator=generator, device=device,
                                       dtype=dtype, progress=progress)
        bank = cls(patterns, color=filt.name, sigmas={k: v for k, v in meta.items() if k != "filter"},
                   seed=seed, check=False)
        bank.filter, bank.filter_points = meta["filter"], filt.points
        return bank

    # -- basics ---------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.patterns.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)`` of one pattern."""
        return int(self.patterns.shape[1]), int(self.patterns.shape[2])

    @property
    def name(self) -> str:
        """A short label: the file name, else the colour, else ``"bank"``."""
        return self.source.name if self.source else (self.color or "bank")

    def __repr__(self) -> str:
        h, w = self.size
        return f"PatternBank({len(self)} x {h}x{w}, color={self.color!r}, seed={self.seed!r})"

    def to(self, device: torch.device | str) -> PatternBank:
        """The same bank with its patterns on ``device`` (metadata shared, not copied)."""
        bank = PatternBank(self.patterns.to(device), color=self.color, sigmas=self.sigmas, seed=self.seed,
                           source=self.source, stored_dtype=self.stored_dtype, check=False)
        bank.filter, bank.filter_points = self.filter, self.filter_points
        return bank

    def require_window(self, grid_h: int, grid_w: int | None = None) -> None:
        """Raise :class:`PatternFileError` if a ``grid_h x grid_w`` window does not fit in a pattern."""
        grid_w = grid_h if grid_w is None else grid_w
        h, w = self.size
        if h < grid_h or w < grid_w:
            raise PatternFileError(f"{self.name}: patterns of {h}x{w} are smaller than the {grid_h}x{grid_w} "
                                   "window the masks need")

    # -- files ----------------------------------------------------------------------------------------
    def save(self, path: str | Path, *, dtype: str = "float32") -> Path:
        """Write the bank to an ``.npz`` (suffix added if missing), atomically; returns the path written.

        Args:
            dtype: storage, ``"float32"`` or ``"float16"`` (half the size; ~3 significant digits).
        """
        if dtype not in STORAGE_DTYPES:
            raise UserError(f"bank storage must be one of {', '.join(STORAGE_DTYPES)}, got {dtype!r}")
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        patterns = self.patterns.detach().cpu()
        if dtype == "float16" and patterns.abs().max() > torch.finfo(torch.float16).max:
            raise UserError(f"{path}: pattern values exceed the float16 range; save as float32")
        array = patterns.to(getattr(torch, dtype)).numpy()  # via torch: bfloat16 banks have no numpy dtype
        scalars, arrays = {}, {}
        for key, value in self.sigmas.items():
            if isinstance(value, (torch.Tensor, np.ndarray)):
                arrays[SIGMA_ARRAY_PREFIX + key] = np.asarray(torch.as_tensor(value).cpu(), dtype=np.float64)
            else:
                scalars[key] = list(value) if isinstance(value, tuple) else value
        meta = {"format_version": FORMAT_VERSION, "color": self.color, "seed": self.seed, "sigmas": scalars}
        if self.filter is not None:
            meta["filter"] = self.filter
        if self.filter_points is not None:
            meta["filter_points"] = [list(c) for c in self.filter_points]
        from colormae.files import atomic_write

        return atomic_write(path, lambda f: np.savez(
            f, **{PATTERNS_KEY: array, META_KEY: np.array(json.dumps(meta))}, **arrays))

    @classmethod
    def load(cls, path: str | Path) -> PatternBank:
        """Read a bank written by :meth:`save` or an official ``.npz`` (any key, float or integer).

        Warns:
            BankWarning: several arrays without metadata (the first is used), integer storage (ties
                broken by a fixed jitter); see the module docstring.

        Raises:
            PatternFileError: missing file, not an ``.npz``, no array, non-numeric dtype, rank other than
                3, empty array, NaN or inf values.
        """
        path = Path(path)
        if not path.is_file():
            raise PatternFileError(f"{path}: no such file")
        try:
            npz = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
            raise PatternFileError(f"{path}: not an .npz file ({type(err).__name__})") from None
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise PatternFileError(f"{path}: not an .npz file (a bare .npy array; wrap it with np.savez)")
        with npz:
            keys = list(npz.files)
            meta: dict[str, Any] = {}
            if META_KEY in keys:
                meta = _read_meta(npz, path)
                if PATTERNS_KEY not in keys:
                    raise PatternFileError(f"{path}: colormae bank without a '{PATTERNS_KEY}' array")
                key = PATTERNS_KEY
            elif not keys:
                raise PatternFileError(f"{path}: the .npz holds no array")
            else:
                key = keys[0]
                if len(keys) > 1:
                    warnings.warn(BankWarning(
                        f"{path}: {len(keys)} arrays ({', '.join(keys[:5])}) and no colormae metadata; "
                        f"using the first, {key!r}, as the official ColorMAE loader does"), stacklevel=2)
            try:
                array = npz[key]
            except ValueError:  # object arrays refuse to load without pickle
                raise PatternFileError(f"{path}: non-numeric dtype object in array '{key}'") from None
            problem = _dtype_problem(array.dtype)
            if problem:
                raise PatternFileError(f"{path}: {problem}")
            sigmas = dict(meta.get("sigmas") or {})
            for name in keys:
                if name.startswith(SIGMA_ARRAY_PREFIX):
                    sigmas[name[len(SIGMA_ARRAY_PREFIX):]] = torch.from_numpy(npz[name].astype(np.float64))
        if "sigma_range" in sigmas:
            sigmas["sigma_range"] = tuple(sigmas["sigma_range"])
        if array.dtype.kind in "iub" and array.ndim == 3:
            warnings.warn(BankWarning(
                f"{path}: integer patterns ({array.dtype}) tie at the keep/mask cut; ties are broken by a "
                "fixed jitter below half a quantization step (same masks on every load)"), stacklevel=2)
            patterns = torch.from_numpy(_break_ties(array))
        else:
            patterns = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        _check_patterns(patterns, str(path), PatternFileError)
        bank = cls(patterns, color=meta.get("color"), sigmas=sigmas, seed=meta.get("seed"), source=path,
                   stored_dtype=str(array.dtype), check=False)
        bank.filter = meta.get("filter") if isinstance(meta.get("filter"), str) else None
        points = meta.get("filter_points")
        bank.filter_points = tuple(tuple(float(v) for v in c) for c in points) if points else None
        return bank

    # -- text -----------------------------------------------------------------------------------------
    def describe(self) -> str:
        """A few lines: source, count and size, dtype, colour and σ's, seed, value statistics."""
        n, (h, w) = len(self), self.size
        p = self.patterns
        lines = []
        if self.source:
            integer = self.stored_dtype is not None and np.dtype(self.stored_dtype).kind in "iub"
            jitter = "; ties broken by a fixed jitter in [0, 0.5)" if integer else ""
            lines.append(f"file:     {self.source} (stored as {self.stored_dtype}{jitter})")
        lines.append(f"patterns: {n} x {h}x{w} ({str(p.dtype).replace('torch.', '')}, {p.device})")
        lines.append(f"colour:   {self.color or 'unknown (no metadata)'}")
        if self.filter:
            lines.append(f"filter:   {self.filter}")
        lines.append(f"sigmas:   {_describe_sigmas(self.sigmas)}")
        lines.append(f"seed:     {self.seed if self.seed is not None else 'unknown'}")
        values = p.to(torch.float64)
        lines.append(f"values:   mean {values.mean():.4g}, std {values.std() if p.numel() > 1 else 0.0:.4g}, "
                     f"min {values.min():.4g}, max {values.max():.4g}")
        return "\n".join(lines)


def _read_meta(npz: np.lib.npyio.NpzFile, path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(str(npz[META_KEY]))
    except (ValueError, TypeError):
        raise PatternFileError(f"{path}: unreadable '{META_KEY}' metadata") from None
    if not isinstance(meta, dict):
        raise PatternFileError(f"{path}: unreadable '{META_KEY}' metadata")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise PatternFileError(f"{path}: bank format version {version!r} is newer than this colormae reads "
                               f"({FORMAT_VERSION})")
    return meta


def _describe_sigmas(sigmas: dict[str, Any]) -> str:
    if not sigmas:
        return "none"
    parts = []
    per_pattern = sigmas.get("sigma")
    if "sigma_range" in sigmas:
        lo, hi = sigmas["sigma_range"]
        same = lo == hi
        parts.append(f"sigma = {lo:g}, every pattern" if same else f"sigma ~ U[{lo:g}, {hi:g}] per pattern")
    if isinstance(per_pattern, torch.Tensor) and per_pattern.numel():
        parts.append(f"drawn: min {per_pattern.min():.3f}, mean {per_pattern.mean():.3f}, "
                     f"max {per_pattern.max():.3f}")
    for key, value in sigmas.items():
        if key not in ("sigma", "sigma_range"):
            parts.append(f"{key} = {value:g}" if isinstance(value, (int, float)) else f"{key} = {value}")
    return "; ".join(parts)
