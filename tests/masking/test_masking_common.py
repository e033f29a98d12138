"""Properties every masking strategy shares: exact counts, shapes, determinism, rectangular grids, errors."""

import pytest
import torch

from colormae.errors import UserError
from colormae.masking import (
    BlockMasking,
    ColorNoiseMasking,
    MaskingSchedule,
    RandomMasking,
    num_keep,
    num_masked,
    parse_grid,
)


def _strategies(ratio: float) -> dict:
    bank = torch.randn(40, 20, 24, generator=torch.Generator().manual_seed(3))
    return {
        "random": RandomMasking(ratio),
        "random-white": RandomMasking(ratio, noise="white"),
        "block": BlockMasking(ratio),
        "independent": ColorNoiseMasking(bank, ratio),
        "independent-f16": ColorNoiseMasking(bank, ratio, bank_dtype="float16"),
        "reference": ColorNoiseMasking(bank, ratio, mode="reference"),
        "online": ColorNoiseMasking("green", ratio, mode="online"),
        "schedule": MaskingSchedule([(0, RandomMasking(ratio)), (2, ColorNoiseMasking(bank, ratio))]),
    }


NAMES = list(_strategies(0.75))


def test_num_keep_is_maes_len_keep():
    assert num_keep(196, 0.75) == 49 and num_masked(196, 0.75) == 147
    assert num_keep(10, 0.33) == 6 and num_masked(10, 0.33) == 4   # int(6.7) = 6
    assert num_keep(64, 0.9) == 6 and num_masked(64, 0.9) == 58


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("ratio,grid", [(0.75, 14), (0.5, (3, 7)), (0.9, (8, 5)), (0.33, (1, 10))])
def test_exact_count_shape_and_dtype(name, ratio, grid, gen):
    strategy = _strategies(ratio)[name]
    gh, gw = parse_grid(grid)
    mask = strategy(37, grid, generator=gen)
    assert mask.shape == (37, gh * gw) and mask.dtype == torch.bool and mask.device.type == "cpu"
    assert (mask.sum(dim=1) == num_masked(gh * gw, ratio)).all()


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_per_generator(name):
    strategy = _strategies(0.75)[name]
    a = strategy(16, (6, 9), generator=torch.Generator().manual_seed(7))
    b = strategy(16, (6, 9), generator=torch.Generator().manual_seed(7))
    c = strategy(16, (6, 9), generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", NAMES)
def test_rows_differ_within_a_batch(name, gen):
    mask = _strategies(0.75)[name](32, 8, generator=gen)
    assert torch.unique(mask, dim=0).shape[0] > 16


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1, 1.5, "x"])
def test_ratio_outside_open_interval_is_a_user_error(ratio):
    for make in (RandomMasking, BlockMasking, lambda r: ColorNoiseMasking("red", r)):
        with pytest.raises(UserError, match="ratio"):
            make(ratio)


@pytest.mark.parametrize("grid", [0, (0, 4), (3, -1), "ab"])
def test_bad_grid_is_a_user_error(grid, gen):
    with pytest.raises(UserError, match="grid"):
        RandomMasking()(4, grid, generator=gen)


def test_bad_batch_size_and_noise_are_user_errors(gen):
    with pytest.raises(UserError, match="batch size"):
        RandomMasking()(0, 4, generator=gen)
    with pytest.raises(UserError, match="noise"):
        RandomMasking(noise="pink")


def test_visible_neighbours_on_known_masks():
    from colormae.masking import visible_neighbours

    checker = (torch.arange(4)[:, None] + torch.arange(4)) % 2 == 1  # visible on a checkerboard: 0 neighbours
    assert visible_neighbours(checker.view(1, 16), 4) == 0.0
    block = torch.ones(1, 3, 5, dtype=torch.bool)
    block[0, :2, :2] = False  # a 2x2 visible square: 2 visible neighbours each
    assert visible_neighbours(block.view(1, 15), (3, 5)) == 2.0
