"""Noise families behind one spec grammar: power-law slopes, today's colours unchanged, rings, tables,
callables, bank metadata and filter:SPEC masks."""

import hashlib

import numpy as np
import pytest
import torch

from colormae.errors import UserError
from colormae.masking import build_masking, visible_neighbours
from colormae.noise import PatternBank, generate_patterns, parse_filter, radial_power_spectrum, sample_filter
from colormae.noise.filters import radial_frequency
from colormae.noise.spec import NoiseFilter

#: sha256 of generate_patterns(color, 40, (48, 64), seed=3) computed with the code before noise filters
#: existed (commit 591d257, this x86-64 CPU, scipy's pocketfft): the colours must still draw these banks.
BEFORE = {
    "green": "494acbbca7b7d46d9a74131a19d10be381f07f281a468061de81dd613e65e92c",
    "red": "cd9172c4077676f40852f860e6fd07c8c4258747775a6140a705cb5ae2550333",
    "purple": "f139fc0903148d3867cdc9f97cf3712dc2d3fd14111d9cb996e3c91c814b509a",
}


def _sha(x: torch.Tensor) -> str:
    return hashlib.sha256(x.numpy().tobytes()).hexdigest()


@pytest.mark.parametrize("beta", [1, 2])
def test_powerlaw_bank_has_the_slope_it_names(beta):
    bank = PatternBank.from_filter(f"powerlaw:beta={beta}", 64, 128, seed=0)
    freqs, power = radial_power_spectrum(bank.patterns)
    slope = np.polyfit(np.log(freqs.numpy()), np.log(power.numpy()), 1)[0]
    assert abs(slope - (-beta)) < 0.1
    assert bank.filter == f"powerlaw:beta={beta}" and abs(float(bank.patterns.std()) - 1.0) < 0.05


@pytest.mark.parametrize("color", sorted(BEFORE))
def test_todays_colour_banks_are_unchanged(color):
    same = sample_filter(color, 40, (48, 64), seed=3)[0]
    assert torch.equal(same, generate_patterns(color, 40, (48, 64), seed=3))
    assert _sha(same) == BEFORE[color]
    # the family spelled out is the same filter, hence the same bank
    assert parse_filter({"green": "gauss:bandpass,s1=0.5,s2=2", "red": "gauss:lowpass,smin=0.5,smax=2",
                         "purple": "gauss:bandstop,sigma1=0.5,sigma2=2"}[color]).name == color


def test_green_masks_from_the_filter_are_todays_masks():
    g1, g2 = (torch.Generator().manual_seed(5) for _ in range(2))
    old = build_masking("green", 0.75, bank_size=16, pattern_size=32)(8, 14, generator=g1)
    new = build_masking("filter:gauss:bandpass,s1=0.5,s2=2", 0.75, bank_size=16, pattern_size=32)(
        8, 14, generator=g2)
    assert torch.equal(old, new)


def test_spec_round_trips_and_presets_take_overrides():
    for spec in ("powerlaw:beta=-2", "ring:f0=0.2,width=0.05", "ring:smooth,f0=0.25,width=0.04",
                 "gauss:highpass,s=1.5", "gauss:bandpass,s1=0.25,s2=4", "white"):
        assert parse_filter(parse_filter(spec).spec) == parse_filter(spec)
    assert parse_filter("green:s1=0.25").spec == "gauss:bandpass,s1=0.25,s2=2"
    assert parse_filter("filter:pink") == parse_filter("powerlaw:beta=1")
    assert parse_filter("powerlaw:beta=2").masking == "filter:powerlaw:beta=2"
    assert parse_filter("gauss:bandpass,s1=0.5,s2=2").masking == "green"


@pytest.mark.parametrize("spec, words", [
    ("ring:f0=0.2", "needs width="), ("nope:x=1", "unknown family"), ("gauss:s=1", "needs a kind"),
    ("powerlaw:beta=high", "beta must be a number"), ("gauss:bandpass,s=1", "takes s1, s2"),
    ("ring:f0=0.2,width=-1", "width must be positive"), ("table:/no/such.csv", "no such file"),
])
def test_bad_specs_say_what_is_wrong_in_one_line(spec, words):
    with pytest.raises(UserError, match=words) as err:
        parse_filter(spec)
    assert "\n" not in str(err.value)


def test_ideal_ring_keeps_only_its_annulus():
    filt = parse_filter("ring:f0=0.25,width=0.05")
    t = filt.transfer((64, 64))[0]
    f = radial_frequency((64, 64))
    inside = (f - 0.25).abs() <= 0.025
    assert bool((t[~inside] == 0).all()) and bool((t[inside] > 0).all())
    assert torch.allclose((t ** 2).mean(), torch.tensor(1.0, dtype=torch.float64))


def test_table_and_callable_filters(tmp_path):
    csv = tmp_path / "gain.csv"
    csv.write_text("frequency,gain\n0,0\n0.2,1\n0.8,1\n")
    table = parse_filter(f"table:{csv}")
    ramp = NoiseFilter.from_callable(lambda f: torch.clamp(f / 0.2, max=1.0), "ramp")
    assert torch.allclose(table.transfer((32, 32)), ramp.transfer((32, 32)))
    bank = PatternBank.from_filter(table, 8, 32, seed=1)
    loaded = PatternBank.load(bank.save(tmp_path / "t.npz"))
    assert loaded.filter == table.spec and loaded.filter_points == table.points
    assert torch.equal(loaded.patterns, bank.patterns)
    csv.write_text("0,1\n")
    with pytest.raises(UserError, match="at least two rows"):
        parse_filter(f"table:{csv}")


@pytest.mark.parametrize("mode", ["independent", "online"])
def test_filter_masks_in_both_modes(mode):
    low = build_masking("filter:powerlaw:beta=2", 0.75, mode=mode, bank_size=32, pattern_size=32)
    high = build_masking("filter:powerlaw:beta=-2", 0.75, mode=mode, bank_size=32, pattern_size=32)
    g = torch.Generator().manual_seed(0)
    m_low, m_high = low(64, 14, generator=g), high(64, 14, generator=g)
    assert bool((m_low.sum(1) == 147).all()) and bool((m_high.sum(1) == 147).all())
    # brown noise keeps visible patches together, violet spreads them apart (random: ~1.0)
    assert visible_neighbours(m_low, 14) > 1.5 > 0.8 > visible_neighbours(m_high, 14)
