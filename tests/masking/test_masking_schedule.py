"""MaskingSchedule and build_masking."""

import numpy as np
import pytest
import torch

from colormae.errors import UserError
from colormae.masking import (
    NAMES,
    BlockMasking,
    ColorNoiseMasking,
    MaskingSchedule,
    RandomMasking,
    build_masking,
)
from colormae.noise import PatternBank


def test_schedule_switches_at_start_epochs(gen):
    green, blue = RandomMasking(0.75), RandomMasking(0.5)
    red = ColorNoiseMasking(torch.randn(3, 9, 9, generator=gen), 0.6)
    schedule = MaskingSchedule([(0, green), (3, blue), (5, red)])
    seen = []
    for epoch in range(7):
        schedule.set_epoch(epoch)
        seen.append(schedule.current)
        assert schedule(4, 5, generator=gen).sum(1).eq(25 - int(25 * (1 - schedule.ratio))).all()
    assert seen == [green] * 3 + [blue] * 2 + [red] * 2
    assert [schedule.ratio] == [0.6]


def test_schedule_delegates_with_the_same_draws():
    inner = BlockMasking(0.75)
    schedule = MaskingSchedule([(0, inner)])
    a = schedule(8, (5, 6), generator=torch.Generator().manual_seed(1))
    b = inner(8, (5, 6), generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


@pytest.mark.parametrize("stages", [[], [(1, RandomMasking())], [(0, RandomMasking()), (0, RandomMasking())]])
def test_bad_schedules_are_user_errors(stages):
    with pytest.raises(UserError):
        MaskingSchedule(stages)


@pytest.mark.parametrize("name", NAMES)
def test_build_every_name(name, gen):
    strategy = build_masking(name, 0.6, bank_size=4, pattern_size=20)
    kind = {"random": RandomMasking, "random-white": RandomMasking, "block": BlockMasking}.get(
        name, ColorNoiseMasking)
    assert isinstance(strategy, kind) and strategy.ratio == 0.6
    assert getattr(strategy, "color", name) == name
    assert strategy(3, 14, generator=gen).sum(1).eq(196 - int(196 * 0.4)).all()


def test_build_colour_comes_from_the_name_never_the_file_name(tmp_path, gen):
    bank = PatternBank.generate("green", 5, 16, seed=0)
    path = bank.save(tmp_path / "red_noise_3072.npz")
    strategy = build_masking("green", bank=path, mode="reference")
    assert strategy.mode == "reference" and torch.equal(strategy.patterns, bank.patterns)
    with pytest.raises(UserError, match="green"):
        build_masking("red", bank=path)
    official = tmp_path / "blue_official.npz"  # one bare array, no colour stored
    np.savez(official, bank.patterns.numpy())
    assert build_masking("purple", bank=official).color == "purple"


def test_build_schedule_and_errors(tmp_path):
    schedule = build_masking("green", schedule=[(2, "blue"), (4, "random")], bank_size=2, pattern_size=16)
    assert isinstance(schedule, MaskingSchedule)
    assert [getattr(s, "color", None) for _, s in schedule.stages] == ["green", "blue", None]
    with pytest.raises(UserError, match="unknown masking"):
        build_masking("pink")
    with pytest.raises(UserError, match="no pattern bank"):
        build_masking("random", bank=tmp_path / "x.npz")
    with pytest.raises(UserError, match="online"):
        build_masking("red", bank=tmp_path / "x.npz", mode="online")
