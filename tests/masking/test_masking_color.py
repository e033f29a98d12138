"""ColorNoiseMasking: Algorithm 1 (reference), per-sample independent windows, online noise, spatial stats."""

import pytest
import torch
import torchvision.transforms as T

from colormae.errors import UserError
from colormae.masking import BlockMasking, ColorNoiseMasking, RandomMasking, num_keep, visible_neighbours
from colormae.noise import PatternBank


def _bank(n: int = 10, h: int = 12, w: int = 15, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, h, w, generator=torch.Generator().manual_seed(seed))


def _mask_of_window(window: torch.Tensor, keep: int) -> torch.Tensor:
    """Algorithm 1's last step for one window (gh, gw): the ``keep`` largest values visible."""
    order = torch.argsort(window.flatten(), descending=True)
    mask = torch.ones(window.numel(), dtype=torch.bool)
    mask[order[:keep]] = False
    return mask


def _algorithm1_loop(bank: torch.Tensor, b: int, gh: int, gw: int, ratio: float,
                     gen: torch.Generator) -> torch.Tensor:
    """A direct, slow transcription of the official generator, drawing in the same order from ``gen``:
    per chunk of the bank, a crop offset (top, then left), a horizontal flip, a vertical flip; every
    window divided by its max; the first B windows over chunks."""
    n, h, w = bank.shape
    keep = num_keep(gh * gw, ratio)
    rows = []
    while len(rows) < b:
        top = int(torch.randint(0, h - gh + 1, (1,), generator=gen)) if (h, w) != (gh, gw) else 0
        left = int(torch.randint(0, w - gw + 1, (1,), generator=gen)) if (h, w) != (gh, gw) else 0
        hflip = bool(torch.rand(1, generator=gen) < 0.5)
        vflip = bool(torch.rand(1, generator=gen) < 0.5)
        for k in range(min(n, b - len(rows))):
            window = bank[k, top:top + gh, left:left + gw]
            if hflip:
                window = window.flip(1)
            if vflip:
                window = window.flip(0)
            rows.append(_mask_of_window(window / window.max(), keep))
    return torch.stack(rows)


@pytest.mark.parametrize("b,grid", [(7, (5, 6)), (10, (5, 6)), (23, (12, 9)), (31, (4, 4))])
def test_reference_is_algorithm_1(b, grid):
    bank = _bank()
    bank[3] = -bank[3].abs() - 0.1  # a window with a negative max: the normalisation reverses its ranking
    strategy = ColorNoiseMasking(bank, 0.75, mode="reference")
    got = strategy(b, grid, generator=torch.Generator().manual_seed(11))
    want = _algorithm1_loop(bank, b, *grid, 0.75, torch.Generator().manual_seed(11))
    assert torch.equal(got, want)
    assert torch.equal(strategy.last_indices, torch.arange(b) % len(bank))


def test_reference_matches_the_official_torchvision_pipeline():
    """With torch's global RNG, the reference mode draws exactly what the official transforms draw."""
    bank = _bank(n=6, h=16, w=16)
    grid, b = 14, 15

    def official(x: torch.Tensor) -> torch.Tensor:  # RandomCrop, flips, NormalizeBySliceMax; chunks of N
        t = T.Compose([T.RandomCrop(grid), T.RandomHorizontalFlip(0.5), T.RandomVerticalFlip(0.5)])
        chunks = []
        for k in range(-(-b // len(x))):
            w = t(x)[: min(len(x), b - k * len(x))]
            chunks.append(w / w.amax(dim=(1, 2), keepdim=True))
        return torch.stack([_mask_of_window(w, num_keep(grid * grid, 0.75)) for w in torch.cat(chunks)])

    torch.manual_seed(5)
    want = official(bank)
    torch.manual_seed(5)
    got = ColorNoiseMasking(bank, mode="reference")(b, grid)
    assert torch.equal(got, want)


def test_reference_shares_offsets_and_uses_only_the_first_patterns(gen):
    strategy = ColorNoiseMasking(_bank(n=50, h=40, w=40), mode="reference")
    for _ in range(5):
        strategy(20, 8, generator=gen)
        assert torch.unique(strategy.last_offsets, dim=0).shape[0] == 1
        assert int(strategy.last_indices.max()) == 19


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_independent_windows_match_a_per_sample_loop(dtype, gen):
    bank = _bank(n=9, h=13, w=17)
    bank[2] = -bank[2].abs() - 0.1
    gh, gw, ratio = 6, 8, 0.7
    strategy = ColorNoiseMasking(bank, ratio, bank_dtype=dtype)
    mask = strategy(64, (gh, gw), generator=gen)
    stored = bank.to(getattr(torch, dtype)).float()
    keep = num_keep(gh * gw, ratio)
    assert strategy.last_flips.any(dim=0).all() and (~strategy.last_flips).any(dim=0).all()
    for i in range(64):
        (top, left), (hflip, vflip) = strategy.last_offsets[i].tolist(), strategy.last_flips[i].tolist()
        window = stored[strategy.last_indices[i], top:top + gh, left:left + gw]
        window = window.flip(1) if hflip else window
        window = window.flip(0) if vflip else window
        want = _mask_of_window(window / window.max(), keep)
        if dtype == "float32":
            assert torch.equal(mask[i], want)
        else:  # float16 banks may tie; ties are broken by topk rather than argsort
            assert (mask[i] != want).sum() <= 2


def test_independent_uses_the_whole_bank_and_varies_offsets():
    """Over 200 batches of 512 from a 3072-pattern bank at least 95 % of the patterns are used."""
    strategy = ColorNoiseMasking(_bank(n=3072, h=20, w=20), mode="independent")
    gen = torch.Generator().manual_seed(0)
    used = torch.zeros(3072, dtype=torch.bool)
    for _ in range(200):
        strategy(512, 4, generator=gen)  # a small grid keeps the test fast; the draws do not depend on it
        used[strategy.last_indices] = True
    assert used.float().mean() >= 0.95
    assert torch.unique(strategy.last_offsets, dim=0).shape[0] > 150  # 17 x 17 offsets possible
    assert torch.unique(strategy.last_flips, dim=0).shape[0] == 4


def test_float16_bank_is_cached_once_per_device_at_half_the_bytes(gen):
    bank = _bank(n=4, h=16, w=16)
    f32, f16 = ColorNoiseMasking(bank), ColorNoiseMasking(bank, bank_dtype="float16")
    assert f32.bank_bytes() == 4 * 16 * 16 * 4 and f16.bank_bytes() == 4 * 16 * 16 * 2
    f16(3, 8, generator=gen)
    stored = f16.bank_on(torch.device("cpu"))
    assert stored.dtype == torch.float16 and f16.bank_on(torch.device("cpu")) is stored


def test_colour_name_builds_a_seeded_bank(gen):
    a = ColorNoiseMasking("blue", bank_size=8, pattern_size=32, seed=4)
    b = ColorNoiseMasking("blue", bank_size=8, pattern_size=32, seed=4)
    c = ColorNoiseMasking("blue", bank_size=8, pattern_size=32, seed=5)
    assert a.bank_bytes() == 8 * 32 * 32 * 4 and a._patterns is None  # not made just to be measured
    assert a.patterns.shape == (8, 32, 32)
    assert torch.equal(a.patterns, b.patterns) and not torch.equal(a.patterns, c.patterns)


def test_pattern_bank_object_is_accepted(gen):
    bank = PatternBank.generate("green", 6, 24, seed=1)
    strategy = ColorNoiseMasking(bank)
    assert strategy.color == "green"
    assert strategy(5, 14, generator=gen).sum(dim=1).eq(196 - 49).all()


def test_online_has_no_bank(gen):
    strategy = ColorNoiseMasking("red", mode="online")
    mask = strategy(9, (5, 11), generator=gen)
    assert mask.sum(dim=1).eq(55 - num_keep(55, 0.75)).all()
    assert strategy.bank_bytes() == 0 and strategy.last_indices is None


def test_user_errors():
    with pytest.raises(UserError, match="smaller than"):
        ColorNoiseMasking(_bank(h=10, w=30))(2, (11, 11))
    with pytest.raises(UserError, match="mode"):
        ColorNoiseMasking("red", mode="fast")
    with pytest.raises(UserError, match="colour"):
        ColorNoiseMasking("pink")
    with pytest.raises(UserError, match="online"):
        ColorNoiseMasking(_bank(), mode="online")
    with pytest.raises(UserError, match="float16"):
        ColorNoiseMasking(_bank(), bank_dtype="int8")
    with pytest.raises(UserError, match="N, H, W"):
        ColorNoiseMasking(torch.zeros(3, 4))


# Measured values: see colormae.masking.stats.
@pytest.mark.parametrize("mode", ["independent", "reference", "online"])
def test_colours_differ_from_random_in_visible_neighbours(mode):
    gen = torch.Generator().manual_seed(0)
    random = visible_neighbours(RandomMasking()(256, 14, generator=gen), 14)
    stats = {c: visible_neighbours(ColorNoiseMasking(c, mode=mode, bank_size=64, pattern_size=48)(
        256, 14, generator=gen), 14) for c in ("red", "green", "white", "blue", "purple")}
    assert 0.85 < random < 0.98
    assert stats["red"] > random + 1.2          # low-pass: large visible clumps
    assert stats["green"] > random + 0.15       # band-pass: small clumps
    assert abs(stats["white"] - random) < 0.06  # white noise windows are random masks
    assert stats["blue"] < random - 0.12        # high-pass: visible patches avoid each other
    assert stats["purple"] < stats["blue"] - 0.03
    assert visible_neighbours(BlockMasking()(256, 14, generator=gen), 14) > random + 1.2
