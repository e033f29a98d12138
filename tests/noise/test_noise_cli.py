"""``colormae patterns generate|describe|show`` through colormae.cli.main, tiny sizes."""

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from colormae.cli import main
from colormae.noise import PatternBank, generate_patterns


def test_generate_writes_the_seeded_bank(tmp_path, capsys):
    out = tmp_path / "g.npz"
    assert main(["patterns", "generate", "--color", "green", "--count", "5", "--size", "16x24",
                 "--seed", "3", "-o", str(out)]) == 0
    assert "5 green patterns of 16x24" in capsys.readouterr().out
    bank = PatternBank.load(out)
    assert bank.color == "green" and bank.seed == 3 and bank.stored_dtype == "float32"
    assert torch.equal(bank.patterns, generate_patterns("green", 5, (16, 24), seed=3))


def test_generate_sigma_and_dtype_options(tmp_path):
    out = tmp_path / "b.npz"
    assert main(["patterns", "generate", "--color", "blue", "--count", "4", "--size", "8", "--sigma", "1.5",
                 "--dtype", "float16", "-o", str(out)]) == 0
    bank = PatternBank.load(out)
    assert bank.stored_dtype == "float16" and torch.all(bank.sigmas["sigma"] == 1.5)
    assert main(["patterns", "generate", "--color", "red", "--count", "4", "--size", "8",
                 "--sigma-range", "1.0", "1.2", "-o", str(out)]) == 0
    sig = PatternBank.load(out).sigmas["sigma"]
    assert 1.0 <= sig.min() and sig.max() <= 1.2


def test_generate_default_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["patterns", "generate", "--color", "white", "--count", "2", "--size", "8"]) == 0
    assert (tmp_path / "white_2.npz").is_file()


@pytest.mark.parametrize(("argv", "message"), [
    (["patterns", "generate", "--color", "red", "--count", "2", "--sigma1", "1"],
     "unknown σ option 'sigma1'"),
    (["patterns", "generate", "--color", "red", "--count", "0"], "positive int"),
    (["patterns", "describe", "missing.npz"], "missing.npz: no such file"),
])
def test_user_mistakes_print_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


@pytest.mark.parametrize(("size", "message"), [("8x", "size must be N or HxW"), ("2", "too small")])
def test_bad_size_is_an_argparse_error(capsys, size, message):
    with pytest.raises(SystemExit) as info:
        main(["patterns", "generate", "--color", "red", "--size", size])
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_describe_prints_each_file(tmp_path, capsys):
    a = PatternBank.generate("purple", 3, 8, seed=1).save(tmp_path / "a.npz")
    b = tmp_path / "official.npz"
    np.savez(b, np.zeros((2, 8, 8), np.float16) + np.arange(8, dtype=np.float16))
    assert main(["patterns", "describe", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "colour:   purple" in out and "3 x 8x8" in out
    assert "colour:   unknown" in out and "2 x 8x8" in out and "stored as float16" in out


def test_show_writes_one_sheet(tmp_path, capsys):
    banks = [PatternBank.generate(c, 6, 20, seed=0) for c in ("red", "green")]
    files = [str(bank.save(tmp_path / f"{bank.color}.npz")) for bank in banks]
    out = tmp_path / "sheet.png"
    assert main(["patterns", "show", *files, "-o", str(out), "--examples", "2", "--grid", "8"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    image = imread(out)
    assert image.shape[1] == 2 * 2 * 160  # 2 patterns + 2 masks, 160 px each
    assert image.shape[0] == (2 + 2) * 160 + 40  # 2 bank rows + the spectrum panel


def test_show_refuses_a_bank_smaller_than_the_grid(tmp_path, capsys):
    path = PatternBank.generate("green", 2, 10, seed=0).save(tmp_path / "tiny.npz")
    assert main(["patterns", "show", str(path), "-o", str(tmp_path / "s.png")]) == 2
    assert "tiny.npz: patterns of 10x10 are smaller than the 14x14 window" in capsys.readouterr().err
