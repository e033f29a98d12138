"""Every strategy's ``draw`` hands out the mask and its ``ids_keep`` (what ``mask_to_ids`` would find)."""

import pytest
import torch

from colormae.masking import (
    BlockMasking,
    ColorNoiseMasking,
    MaskingSchedule,
    RandomMasking,
    draw_masks,
    num_keep,
)
from colormae.models.ids import mask_to_ids


def strategies():
    bank = torch.randn(6, 16, 16, generator=torch.Generator().manual_seed(1))
    return {
        "random": RandomMasking(0.75),
        "random-white": RandomMasking(0.6, noise="white"),
        "block": BlockMasking(0.5),
        "independent": ColorNoiseMasking(bank, 0.75),
        "reference": ColorNoiseMasking(bank, 0.75, "reference"),
        "online": ColorNoiseMasking("green", 0.7, "online"),
        "schedule": MaskingSchedule([(0, RandomMasking(0.75)), (2, BlockMasking(0.4))]),
    }


@pytest.mark.parametrize("name", list(strategies()))
def test_draw_ids_are_the_masks_visible_patches(name):
    strategy = strategies()[name]
    for epoch in (0, 3):
        if hasattr(strategy, "set_epoch"):
            strategy.set_epoch(epoch)
        masks = strategy.draw(9, (6, 7), generator=torch.Generator().manual_seed(4))
        expected_ids, _ = mask_to_ids(masks.mask)
        assert masks.ids_keep.shape == (9, num_keep(42, strategy.ratio))
        assert torch.equal(masks.ids_keep, expected_ids)
        # the same draw as the plain call (same generator state -> same mask)
        plain = strategy(9, (6, 7), generator=torch.Generator().manual_seed(4))
        assert torch.equal(plain, masks.mask)


def test_draw_masks_serves_a_strategy_without_draw():
    class Stripes:  # a user's strategy: only the protocol's __call__
        ratio = 0.5

        def __call__(self, batch_size, grid, *, generator=None, device=None):
            mask = torch.zeros(batch_size, 8, dtype=torch.bool)
            mask[:, 1::2] = True
            return mask

    masks = draw_masks(Stripes(), 3, (2, 4))
    assert torch.equal(masks.ids_keep, torch.tensor([[0, 2, 4, 6]] * 3))
    assert torch.equal(masks.ids_keep, mask_to_ids(masks.mask)[0])


def test_mask_to_ids_with_a_known_count_needs_no_count_from_the_mask(gen):
    mask = RandomMasking(0.75)(4, 8, generator=gen)
    assert all(torch.equal(a, b) for a, b in zip(mask_to_ids(mask, 16), mask_to_ids(mask), strict=True))


def test_check_flag_catches_a_wrong_count(monkeypatch, gen):
    from colormae.models import ids

    mask = RandomMasking(0.75)(4, 8, generator=gen)
    monkeypatch.setattr(ids, "CHECK_MASKS", True)
    with pytest.raises(ValueError, match="keeps 16"):
        mask_to_ids(mask, 15)
