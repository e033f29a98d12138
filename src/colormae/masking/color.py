"""ColorMAE's colour-noise masks (Hinojosa et al., ECCV 2024, Algorithm 1), in three modes.

Algorithm 1: take a window of the patch grid's size from a noise pattern by random crop and random
horizontal / vertical flips; the ``len_keep = int(L * (1 - ratio))`` **largest** window values stay visible,
the rest are masked.

- ``"reference"`` reproduces the official code (carlosh93/ColorMAE, ``ColorMasking.extract_windows``):
  one crop offset and one pair of flips (p = 0.5 each) for the whole bank, each window divided by its own
  maximum (``NormalizeBySliceMax``, which reverses the ranking of a window whose maximum is negative), the
  first B windows; a batch larger than the bank N takes B // N full chunks, each with a fresh crop and
  flips, then the first B % N windows of one more. Only patterns 0..B-1 are ever used, and every sample
  of a chunk shares the offset and flips. (Cropping only the first min(B, N) patterns before flipping
  gives the same windows as transforming the whole bank, at a cost that tracks B, not N.)
- ``"independent"`` (default): every sample draws its own pattern (uniform over the bank), crop offset and
  flips. Only the B windows needed are gathered, in one advanced-indexing read with per-sample row
  indices (a vertical flip is a reversed range; see :meth:`ColorNoiseMasking._independent` for the
  horizontal one); no Python loop over the batch.
- ``"online"``: no bank; each call filters fresh noise of the colour or noise filter on the device
  (:func:`colormae.noise.generate.sample_filter`) and crops the window from it. Patterns are made
  ``ONLINE_MARGIN`` pixels larger than the grid: FFT filtering makes them periodic, and the margin keeps
  the window's opposite edges further apart through the wrap than the widest filter reaches
  (the sampled kernel is truncated at ``int(4 sigma + 0.5)`` = 8 pixels for the paper's largest sigma,
  2.0), so no wrap-around correlation enters the mask.

In every mode only the sign of the window's maximum matters for the ranking, so ``independent`` and
``online`` flip the sign of a window whose maximum is negative instead of dividing: the same masks as
``NormalizeBySliceMax`` at a fraction of the cost.
"""

from __future__ import annotations

import torch

from colormae.errors import UserError
from colormae.masking.base import (
    DrawnMasks,
    Grid,
    Masks,
    check_batch_size,
    check_ratio,
    mask_device,
    mask_from_scores,
    masks_from_ids,
    num_keep,
    parse_grid,
)
from colormae.noise import COLORS
from colormae.noise.generate import sample_filter
from colormae.noise.spec import NoiseFilter, parse_filter

MODES = ("independent", "reference", "online")
#: The official banks: 3072 patterns of 256 x 256 (paper, Sec. 4; supplement Table 1b).
BANK_SIZE = 3072
PATTERN_SIZE = 256
#: Extra pixels of an online pattern beyond the grid (see the module docstring).
ONLINE_MARGIN = 8

_DTYPES = {"float32": torch.float32, "float16": torch.float16, torch.float32: torch.float32,
           torch.float16: torch.float16}


def _as_patterns(bank: object) -> tuple[torch.Tensor, str | None]:
    """The ``(N, H, W)`` tensor and colour of a :class:`~colormae.noise.PatternBank` or a bare tensor."""
    patterns = getattr(bank, "patterns", bank)
    if not isinstance(patterns, torch.Tensor):
        raise UserError("expected a PatternBank, a (N, H, W) tensor or a colour name, "
                        f"got {type(bank).__name__}")
    if patterns.dim() != 3 or patterns.shape[0] == 0:
        raise UserError(f"a pattern bank must hold (N, H, W) patterns, N >= 1; got {tuple(patterns.shape)}")
    return patterns, getattr(bank, "color", None)


class ColorNoiseMasking(DrawnMasks):
    """Colour-noise masks: the largest values of a noise window stay visible (ColorMAE, Algorithm 1).

    Args:
        bank_or_color: a :class:`~colormae.noise.PatternBank`, a tensor ``(N, H, W)`` of patterns, a
            colour name (``"red"``, ``"blue"``, ``"green"``, ``"purple"``, ``"white"``, ``"uniform"``), a
            noise filter ``"filter:SPEC"`` (:mod:`colormae.noise.spec`, e.g. ``"filter:powerlaw:beta=2"``)
            or a :class:`~colormae.noise.spec.NoiseFilter`; a name or filter makes a bank of ``bank_size``
            patterns of ``pattern_size`` pixels with ``seed`` on first
            use (on the CPU, so a seed gives the same bank on every device), or, with ``mode="online"``,
            fresh noise of that colour each call.
        ratio: fraction of patches to mask, in (0, 1); the paper uses 0.75.
        mode: ``"independent"`` (default), ``"reference"`` (the official code) or ``"online"``.
        seed: seed of the bank a colour name makes.
        bank_size: patterns in the bank a colour name makes (official: 3072).
        pattern_size: their side in pixels (official: 256).
        bank_dtype: storage of the bank on the device, ``"float32"`` or ``"float16"`` (half the memory:
            3072 x 256 x 256 is 768 MiB in float32, 384 MiB in float16; windows are compared in float32).

    After each call ``last_indices`` holds the pattern index each sample used (``(B,)`` int64; ``None`` in
    online mode), ``last_offsets`` the crop ``(top, left)`` of each sample (``(B, 2)``) and
    ``last_flips`` its ``(horizontal, vertical)`` flips (``(B, 2)`` bool).
    """

    def __init__(self, bank_or_color: object, ratio: float = 0.75, mode: str = "independent", *,
                 seed: int = 0, bank_size: int = BANK_SIZE, pattern_size: int = PATTERN_SIZE,
                 bank_dtype: str | torch.dtype = "float32") -> None:
        if mode not in MODES:
            raise UserError(f"colour masking mode must be one of {', '.join(MODES)}, got {mode!r}")
        if bank_dtype not in _DTYPES:
            raise UserError(f"bank storage must be float32 or float16, got {bank_dtype!r}")
        self.ratio = check_ratio(ratio)
        self.mode = mode
        self.seed = seed
        self.bank_dtype = _DTYPES[bank_dtype]
        self._patterns: torch.Tensor | None = None
        self._on_device: dict[torch.device, torch.Tensor] = {}
        self._last: tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self._table_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
        self.filter: NoiseFilter | None = None
        if isinstance(bank_or_color, (str, NoiseFilter)):
            if isinstance(bank_or_color, str) and bank_or_color not in COLORS \
                    and not bank_or_color.startswith("filter:"):
                raise UserError(f"unknown noise colour {bank_or_color!r}; choose one of {', '.join(COLORS)} "
                                "or filter:SPEC")
            self.filter = parse_filter(bank_or_color)
            self.color: str | None = self.filter.name
            self.bank_size, self.pattern_size = int(bank_size), int(pattern_size)
        else:
            if mode == "online":
                raise UserError("online colour masking makes its own noise: give a colour name, not a bank")
            self._patterns, self.color = _as_patterns(bank_or_color)

    # -- the bank -------------------------------------------------------------------------------------
    @property
    def patterns(self) -> torch.Tensor:
        """The bank ``(N, H, W)`` as given (or made from the colour name on first use), on the CPU."""
        if self.mode == "online":
            raise UserError("online colour masking has no pattern bank")
        if self._patterns is None:
            self._patterns = sample_filter(self.filter, self.bank_size, self.pattern_size, seed=self.seed,
                                           progress=self.bank_size >= 1024)[0]
        return self._patterns

    def bank_on(self, device: torch.device) -> torch.Tensor:
        """The bank on ``device`` in the storage dtype, moved once and cached per device."""
        if device.type == "cuda" and device.index is None:  # "cuda" and "cuda:0" share one copy
            device = torch.device("cuda", torch.cuda.current_device())
        bank = self._on_device.get(device)
        if bank is None:
            bank = self.patterns.to(device=device, dtype=self.bank_dtype).contiguous()
            self._on_device[device] = bank
        return bank

    def bank_bytes(self) -> int:
        """Bytes the bank takes on a device in the storage dtype (0 in online mode)."""
        if self.mode == "online":
            return 0
        count = self.bank_size * self.pattern_size ** 2 if self._patterns is None else self._patterns.numel()
        return count * torch.finfo(self.bank_dtype).bits // 8  # without making a bank not yet made

    # -- what the last call drew ----------------------------------------------------------------------
    @property
    def last_indices(self) -> torch.Tensor | None:
        """Pattern index of each sample of the last call, ``(B,)`` int64 (None in online mode or before)."""
        return None if self._last is None else self._last[0]

    @property
    def last_offsets(self) -> torch.Tensor | None:
        """Crop ``(top, left)`` of each sample of the last call, ``(B, 2)`` int64."""
        return None if self._last is None else torch.stack(self._last[1:3], dim=1)

    @property
    def last_flips(self) -> torch.Tensor | None:
        """``(horizontal, vertical)`` flips of each sample of the last call, ``(B, 2)`` bool."""
        return None if self._last is None else self._last[3].bool()

    # -- masks ----------------------------------------------------------------------------------------
    def _draw(self, batch_size: int, grid: Grid, generator: torch.Generator | None,
              device: torch.device | str | None, *, with_ids: bool) -> Masks:
        b = check_batch_size(batch_size)
        gh, gw = parse_grid(grid)
        dev = mask_device(device, generator)
        if self.mode == "online":
            windows = self._online_windows(b, gh, gw, generator, dev)
        else:
            bank = self.bank_on(dev)
            n, h, w = bank.shape
            if h < gh or w < gw:
                raise UserError(f"noise patterns of {h}x{w} are smaller than the {gh}x{gw} patch grid")
            if self.mode == "independent":
                return self._independent(bank, b, gh, gw, generator, with_ids)
            windows = self._reference_windows(bank, b, gh, gw, generator)
        return mask_from_scores(windows, num_keep(gh * gw, self.ratio), largest=True, with_ids=with_ids)

    def _independent(self, bank: torch.Tensor, b: int, gh: int, gw: int,
                     generator: torch.Generator | None, with_ids: bool) -> Masks:
        """Per-sample pattern, crop offset and flips, read in one gather: masks ``(B, gh*gw)`` and ids.

        The gather copies ``gw``-long row segments, one per window row: ``index_select`` over an
        overlapping ``as_strided`` view of the flat bank whose row ``i`` is the ``gw`` values starting at
        value ``i`` (read-only, no copy). Copying whole segments is faster on CPU than gathering values one by
        one (``torch.take``, advanced indexing), the more so for a large bank, whose random reads then
        overlap. A vertical flip reverses the order of the row segments; a horizontal flip is applied
        to the ``len_keep`` indices ``topk`` returns (column ``c -> gw - 1 - c``), cheaper than reversing
        every window.
        """
        n, h, w = bank.shape
        dev = bank.device
        length, keep = gh * gw, num_keep(gh * gw, self.ratio)
        index = torch.randint(0, n, (b,), generator=generator, device=dev)
        top = torch.randint(0, h - gh + 1, (b,), generator=generator, device=dev)
        left = torch.randint(0, w - gw + 1, (b,), generator=generator, device=dev)
        flips = torch.randint(0, 2, (b, 2), generator=generator, device=dev)  # (horizontal, vertical)
        row_steps, mirror = self._tables(gh, gw, w, dev)
        corner = torch.add(left, top, alpha=w).add_(index, alpha=h * w)  # (B,) each window's top-left value
        starts = (corner[:, None] + row_steps.index_select(0, flips[:, 1])).view(-1)  # (B*gh,) segment starts
        segments = bank.view(-1).as_strided((bank.numel() - gw + 1, gw), (1, 1))
        windows = segments.index_select(0, starts).view(b, length).to(torch.float32)
        ids = torch.topk(_rank_as_normalized(windows), keep, dim=1, sorted=False).indices  # (B, keep)
        ids = mirror.index_select(0, (ids + flips[:, :1] * length).view(-1)).view(b, keep)
        self._last = (index, top, left, flips)
        return masks_from_ids(ids, length, with_ids=with_ids)

    def _tables(self, gh: int, gw: int, w: int, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Cached per shape and device: ``row_steps (2, gh)``, the flat offsets of a window's rows from its
        top-left value, top-down and bottom-up; ``mirror (2 * gh*gw,)``: entry ``i`` is ``i`` and entry
        ``gh*gw + r*gw + c`` is ``r*gw + gw-1-c``, the horizontally mirrored patch (``index_select`` in a
        table is faster on CPU than ``torch.where`` between the two)."""
        key = (gh, gw, w, dev)
        if key not in self._table_cache:
            steps = torch.arange(gh, device=dev) * w
            patches = torch.arange(gh * gw, device=dev)
            mirror = torch.cat([patches, patches.view(gh, gw).flip(1).reshape(-1)])
            self._table_cache[key] = (torch.stack([steps, steps.flip(0)]), mirror)
        return self._table_cache[key]

    def _reference_windows(self, bank: torch.Tensor, b: int, gh: int, gw: int,
                           generator: torch.Generator | None) -> torch.Tensor:
        """Algorithm 1 as the official code runs it: float32 ``(B, gh*gw)`` (see the module docstring)."""
        n, h, w = bank.shape
        dev = bank.device
        chunks, offsets, flips = [], [], []
        full, rest = divmod(b, n)
        for k in range(full + (rest > 0)):
            count = n if k < full else rest
            top, left = _crop_offset(h, w, gh, gw, generator, dev)
            hflip, vflip = (bool(torch.rand(1, generator=generator, device=dev) < 0.5) for _ in range(2))
            window = bank[:count, top:top + gh, left:left + gw].to(torch.float32)
            if hflip:
                window = window.flip(-1)
            if vflip:
                window = window.flip(-2)
            chunks.append(window / window.amax(dim=(-2, -1), keepdim=True))  # NormalizeBySliceMax
            offsets.append(torch.tensor([[top, left]], device=dev).expand(count, 2))
            flips.append(torch.tensor([[hflip, vflip]], device=dev).expand(count, 2))
        offsets_t = torch.cat(offsets)
        self._last = (torch.cat([torch.arange(len(c), device=dev) for c in chunks]), offsets_t[:, 0],
                      offsets_t[:, 1], torch.cat(flips))
        return torch.cat(chunks).view(b, gh * gw)

    def _online_windows(self, b: int, gh: int, gw: int, generator: torch.Generator | None,
                        dev: torch.device) -> torch.Tensor:
        """Fresh noise of the colour filtered on ``dev``, cropped to the grid: float32 ``(B, gh*gw)``."""
        size = (gh + ONLINE_MARGIN, gw + ONLINE_MARGIN)
        noise = sample_filter(self.filter, b, size, generator=generator, device=dev)[0]
        windows = noise[:, :gh, :gw].reshape(b, gh * gw).to(torch.float32)
        zeros = torch.zeros(b, dtype=torch.long, device=dev)
        self._last = (None, zeros, zeros, torch.zeros(b, 2, dtype=torch.bool, device=dev))
        return _rank_as_normalized(windows)

    def __repr__(self) -> str:
        source = self.color if self._patterns is None else f"bank of {self._patterns.shape[0]}"
        return f"ColorNoiseMasking({source!r}, ratio={self.ratio}, mode={self.mode!r})"


def _crop_offset(h: int, w: int, gh: int, gw: int, generator: torch.Generator | None,
                 dev: torch.device) -> tuple[int, int]:
    """``torchvision.transforms.RandomCrop.get_params`` semantics (no draw when the sizes match)."""
    if h == gh and w == gw:
        return 0, 0
    top = int(torch.randint(0, h - gh + 1, (1,), generator=generator, device=dev))
    left = int(torch.randint(0, w - gw + 1, (1,), generator=generator, device=dev))
    return top, left


def _rank_as_normalized(windows: torch.Tensor) -> torch.Tensor:
    """Windows ``(B, L)`` ranked like ``window / window.max()``: negated where the maximum is negative."""
    return windows.mul_(windows.amax(dim=1, keepdim=True).sign_())  # (an all-zero window stays all zero)
