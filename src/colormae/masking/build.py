"""Masking strategies by name, as the training config and the CLI ask for them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from colormae.errors import UserError
from colormae.masking.base import MaskingStrategy
from colormae.masking.block import BlockMasking
from colormae.masking.color import BANK_SIZE, PATTERN_SIZE, ColorNoiseMasking
from colormae.masking.names import NAMES
from colormae.masking.random import RandomMasking
from colormae.masking.schedule import MaskingSchedule


def build_masking(name: str, ratio: float = 0.75, *, bank: str | Path | None = None,
                  mode: str = "independent", seed: int = 0, schedule: Sequence[tuple] | None = None,
                  bank_dtype: str = "float32",
                  bank_size: int = BANK_SIZE, pattern_size: int = PATTERN_SIZE) -> MaskingStrategy:
    """A masking strategy from its name.

    Args:
        name: one of :data:`NAMES`, or ``filter:SPEC``: masks from any noise family
            (:mod:`colormae.noise.spec`, e.g. ``filter:powerlaw:beta=2``, ``filter:green:s1=0.25``).
        ratio: fraction of patches to mask, in (0, 1).
        bank: for a colour, a pattern bank file (``PatternBank.load``: ours or the official single-array
            ``.npz``) to use instead of generating one. The colour is ``name``; it is never read from the
            file name, and a bank whose stored colour differs from ``name`` is refused.
        mode: colour masking mode, ``"independent"``, ``"reference"`` or ``"online"``.
        seed: seed of a generated bank.
        schedule: later stages ``[(start_epoch, name), ...]`` or ``[(start_epoch, name, bank), ...]``; when
            given the result is a :class:`MaskingSchedule` whose stage 0 is ``name`` (with ``bank``).
        bank_dtype: bank storage on the device, ``"float32"`` or ``"float16"``.
        bank_size: patterns in a generated bank (official: 3072).
        pattern_size: their side in pixels (official: 256).
    """
    if schedule:
        stages = [(0, name, bank)] + [(int(s[0]), s[1], s[2] if len(s) > 2 else None) for s in schedule]
        return MaskingSchedule([
            (start, build_masking(stage_name, ratio, bank=stage_bank, mode=mode, seed=seed,
                                  bank_dtype=bank_dtype, bank_size=bank_size, pattern_size=pattern_size))
            for start, stage_name, stage_bank in stages
        ])
    if name not in NAMES and not name.startswith("filter:"):
        raise UserError(f"unknown masking {name!r}; choose one of {', '.join(NAMES)} or filter:SPEC")
    if name in ("random", "random-white", "block"):
        if bank is not None:
            raise UserError(f"{name} masking takes no pattern bank")
        if name == "block":
            return BlockMasking(ratio)
        return RandomMasking(ratio, noise="white" if name == "random-white" else "uniform")
    if bank is None:
        return ColorNoiseMasking(name, ratio, mode, seed=seed, bank_size=bank_size, pattern_size=pattern_size,
                                 bank_dtype=bank_dtype)
    if mode == "online":
        raise UserError("online colour masking makes its own noise and takes no pattern bank")
    from colormae.noise import PatternBank

    loaded = PatternBank.load(bank)
    if name.startswith("filter:"):
        from colormae.noise.spec import parse_filter

        wanted = parse_filter(name)
        if loaded.filter is not None and parse_filter(loaded.filter) != wanted:
            raise UserError(f"pattern bank {bank} holds {loaded.filter} noise, not {wanted.spec}")
        loaded.color, loaded.filter = wanted.name, wanted.spec
        return ColorNoiseMasking(loaded, ratio, mode, bank_dtype=bank_dtype)
    if loaded.color is not None and loaded.color != name:
        raise UserError(f"pattern bank {bank} holds {loaded.color} noise, not {name}")
    loaded.color = name  # an official file stores no colour: the name says what it holds
    return ColorNoiseMasking(loaded, ratio, mode, bank_dtype=bank_dtype)
