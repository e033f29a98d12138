"""PatternBank: file round trips, official files, each bad file's one-line error, windows, describe."""

import numpy as np
import pytest
import torch

from colormae.errors import UserError
from colormae.masking import ColorNoiseMasking
from colormae.noise import FORMAT_VERSION, PatternBank, PatternFileError
from colormae.noise.bank import BankWarning


@pytest.fixture
def red_bank() -> PatternBank:
    return PatternBank.generate("red", 6, (10, 12), seed=4)


def test_generate_metadata(red_bank):
    assert len(red_bank) == 6 and red_bank.size == (10, 12)
    assert red_bank.color == "red" and red_bank.seed == 4
    assert red_bank.sigmas["sigma"].shape == (6,)
    assert torch.equal(red_bank.patterns, PatternBank.generate("red", 6, (10, 12), seed=4).patterns)


def test_round_trip_float32_is_exact(tmp_path, red_bank):
    path = red_bank.save(tmp_path / "red.npz")
    back = PatternBank.load(path)
    assert torch.equal(back.patterns, red_bank.patterns)
    assert (back.color, back.seed, back.stored_dtype, back.source) == ("red", 4, "float32", path)
    assert back.sigmas["sigma_range"] == (0.5, 2.0)
    assert torch.equal(back.sigmas["sigma"], red_bank.sigmas["sigma"])
    with np.load(path, allow_pickle=False) as npz:
        assert f'"format_version": {FORMAT_VERSION}' in str(npz["colormae_bank"])


def test_round_trip_float16_halves_the_file(tmp_path):
    bank = PatternBank.generate("green", 8, 32, seed=0)
    p32 = bank.save(tmp_path / "g32.npz")
    p16 = bank.save(tmp_path / "g16", dtype="float16")
    assert p16.name == "g16.npz"  # suffix added
    back = PatternBank.load(p16)
    assert back.stored_dtype == "float16" and back.patterns.dtype == torch.float32
    assert torch.equal(back.patterns, bank.patterns.half().float())
    assert back.sigmas == {"sigma1": 0.5, "sigma2": 2.0}
    assert p16.stat().st_size < 0.55 * p32.stat().st_size


def test_no_uint8_storage(tmp_path, red_bank):
    with pytest.raises(UserError, match="float32, float16"):
        red_bank.save(tmp_path / "q.npz", dtype="uint8")


def test_float16_overflow_refused(tmp_path):
    with pytest.raises(UserError, match="float16 range"):
        PatternBank(torch.full((1, 2, 2), 1e6)).save(tmp_path / "big.npz", dtype="float16")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_loads_official_single_array_npz(tmp_path, dtype):
    array = np.random.default_rng(0).standard_normal((5, 16, 16)).astype(dtype)
    path = tmp_path / "green_noise.npz"
    np.savez(path, array)  # stored as "arr_0", no metadata
    bank = PatternBank.load(path)
    assert bank.color is None and bank.seed is None and bank.sigmas == {}
    assert bank.stored_dtype == np.dtype(dtype).name
    np.testing.assert_array_equal(bank.patterns.numpy(), array.astype(np.float32))
    assert "unknown" in bank.describe()


def test_official_npz_with_several_arrays_uses_the_first_and_says_so(tmp_path):
    rng = np.random.default_rng(0)
    first, second = (rng.standard_normal((3, 8, 8)).astype(np.float32) for _ in range(2))
    path = tmp_path / "green_noise_data_3072.npz"
    np.savez(path, patterns_green=first, extra=second)  # zip order = the official loader's files[0]
    with pytest.warns(BankWarning, match=r"green_noise_data_3072.npz: 2 arrays .*using the first, "
                                         r"'patterns_green'"):
        bank = PatternBank.load(path)
    np.testing.assert_array_equal(bank.patterns.numpy(), first)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.bool_])
def test_integer_bank_loads_with_ties_broken_and_said(tmp_path, dtype):
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype) if dtype is not np.bool_ else None
    low, high = (info.min, info.max) if info else (0, 1)
    stored = rng.integers(low, int(high) + 1, size=(4, 16, 16)).astype(dtype)
    path = tmp_path / "quantized.npz"
    np.savez(path, stored)
    with pytest.warns(BankWarning, match=r"quantized.npz: integer patterns .* tie at the keep/mask cut"):
        bank = PatternBank.load(path)
    assert bank.stored_dtype == np.dtype(dtype).name and bank.patterns.dtype == torch.float32
    # order of distinct values kept (jitter < half a step) and every tie broken
    assert torch.equal(bank.patterns.floor(), torch.from_numpy(stored.astype(np.float32)))
    for pattern in bank.patterns:
        assert pattern.unique().numel() == pattern.numel()
    with pytest.warns(BankWarning):
        assert torch.equal(PatternBank.load(path).patterns, bank.patterns)  # the same on every load
    assert "ties broken by a fixed jitter" in bank.describe().splitlines()[0]


@pytest.mark.parametrize("mode", ["independent", "reference"])
def test_masks_from_a_uint8_bank_have_the_exact_count_and_are_deterministic(tmp_path, mode):
    floats = PatternBank.generate("green", 16, 32, seed=0).patterns
    scaled = (floats - floats.min()) / (floats.max() - floats.min())
    stored = (scaled * 255).round().to(torch.uint8).numpy()
    path = tmp_path / "green_uint8.npz"
    np.savez(path, stored)
    windows = torch.from_numpy(stored[:, :14, :14].reshape(16, -1).astype(np.int64))
    cut = windows.sort(dim=1, descending=True).values[:, 49 - 1:49 + 1]
    assert (cut[:, 0] == cut[:, 1]).any()  # the stored values do tie at the keep/mask cut
    masks = []
    for _ in range(2):
        with pytest.warns(BankWarning):
            strategy = ColorNoiseMasking(PatternBank.load(path), 0.75, mode)
        masks.append(strategy(32, (14, 14), generator=torch.Generator().manual_seed(3)))
    assert masks[0].shape == (32, 196) and torch.equal(masks[0], masks[1])
    assert ((~masks[0]).sum(dim=1) == 49).all()  # len_keep = int(196 * 0.25)


def save_npy(path, array):
    with open(path, "wb") as f:  # an .npy under an .npz name
        np.save(f, array)
    return path


def save_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


BAD_FILES = {
    "not_npz": (lambda p: p.write_text("hello") and p, "not an .npz file"),
    "npy": (lambda p: save_npy(p, np.zeros((2, 4, 4))), "bare .npy"),
    "no_array": (lambda p: save_npz(p), "holds no array"),
    "rank2": (lambda p: save_npz(p, x=np.zeros((4, 4), np.float32)), "rank 3"),
    "rank4": (lambda p: save_npz(p, x=np.zeros((1, 1, 4, 4), np.float32)), "rank 3"),
    "empty": (lambda p: save_npz(p, x=np.zeros((0, 4, 4), np.float32)), "empty"),
    "nan": (lambda p: save_npz(p, x=np.array([[[0.0, np.nan]]])), "NaN or inf"),
    "inf": (lambda p: save_npz(p, x=np.array([[[np.inf, 0.0]]], np.float16)), "NaN or inf"),
    "strings": (lambda p: save_npz(p, x=np.array([[["a", "b"]]])), "non-numeric dtype <U1"),
    "objects": (lambda p: save_npz(p, x=np.array([[[None, 1]]], dtype=object)), "non-numeric dtype object"),
    "complex": (lambda p: save_npz(p, x=np.zeros((1, 2, 2), np.complex64)), "non-numeric dtype complex64"),
    "bad_meta": (lambda p: save_npz(p, patterns=np.zeros((1, 2, 2), np.float32), colormae_bank=np.array("{")),
                 "unreadable"),
    "future": (lambda p: save_npz(p, patterns=np.zeros((1, 2, 2), np.float32),
                                  colormae_bank=np.array('{"format_version": 99}')), "newer"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_one_line_error_naming_the_file(tmp_path, case):
    make, message = BAD_FILES[case]
    path = make(tmp_path / f"{case}.npz")
    with pytest.raises(PatternFileError, match=message) as info:
        PatternBank.load(path)
    text = str(info.value)
    assert text.startswith(str(path)) and "\n" not in text
    assert isinstance(info.value, UserError)


def test_missing_file(tmp_path):
    with pytest.raises(PatternFileError, match="no_such.npz: no such file"):
        PatternBank.load(tmp_path / "no_such.npz")


def test_require_window(tmp_path):
    bank = PatternBank(torch.randn(2, 12, 20))
    bank.require_window(12, 20)
    bank.require_window(12)
    with pytest.raises(PatternFileError, match="12x20 are smaller than the 14x14 window"):
        bank.require_window(14, 14)
    path = bank.save(tmp_path / "small.npz")
    with pytest.raises(PatternFileError, match="small.npz: patterns of 12x20"):
        PatternBank.load(path).require_window(14, 14)


def test_constructor_checks():
    with pytest.raises(UserError, match="rank 3"):
        PatternBank(torch.zeros(4, 4))
    with pytest.raises(UserError, match="floating"):
        PatternBank(torch.zeros(1, 4, 4, dtype=torch.int32))
    with pytest.raises(UserError, match="NaN"):
        PatternBank(torch.full((300, 2, 2), float("nan")))
    assert len(PatternBank(np.zeros((3, 2, 2), np.float32))) == 3


def test_describe(red_bank, tmp_path):
    text = PatternBank.load(red_bank.save(tmp_path / "r.npz", dtype="float16")).describe()
    lines = text.splitlines()
    assert lines[0].startswith("file:") and "float16" in lines[0]
    assert "6 x 10x12" in text and "colour:   red" in text and "seed:     4" in text
    assert "U[0.5, 2] per pattern" in text and "min " in text and "std " in text
    green = PatternBank.generate("green", 2, 8, seed=None, generator=torch.Generator().manual_seed(0))
    assert "sigma1 = 0.5; sigma2 = 2" in green.describe() and "seed:     unknown" in green.describe()


def test_to_device_keeps_metadata(red_bank):
    moved = red_bank.to("cpu")
    assert moved.patterns.device.type == "cpu" and moved.color == "red" and moved.seed == 4
