"""colormae patterns generate --filter, describe / show / atlas of any family."""

import pytest
from PIL import Image

from colormae.cli import main
from colormae.masking.lab import analyse
from colormae.noise import PatternBank, parse_filter


def test_generate_with_a_filter_records_it(tmp_path, capsys):
    out = tmp_path / "b.npz"
    assert main(["patterns", "generate", "--filter", "powerlaw:beta=1", "--count", "4", "--size", "32",
                 "-o", str(out)]) == 0
    bank = PatternBank.load(out)
    assert bank.filter == "powerlaw:beta=1" and bank.color == "pink" and len(bank) == 4
    assert main(["patterns", "generate", "--filter", "powerlaw:beta=1", "--sigma1", "1", "-o",
                 str(out)]) == 2
    assert "--sigma* options go with --color" in capsys.readouterr().err


def test_describe_measures_spectrum_clumpiness_and_coverage(tmp_path, capsys):
    assert main(["patterns", "describe", "--filter", "brown", "--filter", "violet", "--count", "64"]) == 0
    text = capsys.readouterr().out
    assert text.count("visible 4-neighbours") == 2 and "filter:   powerlaw:beta=2" in text
    assert main(["patterns", "describe", "--filter", "ring:f0=oops"]) == 2
    assert "f0 must be a number" in capsys.readouterr().err


def test_report_numbers_follow_the_family():
    brown, violet = (parse_filter(s) for s in ("brown", "violet"))
    rb = analyse(PatternBank.from_filter(brown, 64, 64, seed=0), brown)
    rv = analyse(PatternBank.from_filter(violet, 64, 64, seed=0), violet)
    assert rb.slope == pytest.approx(-2, abs=0.1) and rb.intended_slope == pytest.approx(-2, abs=0.1)
    assert rv.slope == pytest.approx(2, abs=0.1) and rb.max_ratio < 1.3
    assert rb.neighbours > 1.5 > 0.8 > rv.neighbours
    assert rb.masked == pytest.approx(147 / 196) and rb.coverage_min < rb.masked < rb.coverage_max


@pytest.mark.parametrize("action", ["show", "atlas"])
def test_figures_of_several_families(tmp_path, action):
    out = tmp_path / f"{action}.png"
    assert main(["patterns", action, "--filter", "green", "--filter", "pink", "--filter",
                 "ring:f0=0.2,width=0.05", "--count", "16", "-o", str(out)]) == 0
    with Image.open(out) as img:
        assert img.size[0] > 300 and img.size[1] > 300
