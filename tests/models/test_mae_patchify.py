"""patchify / unpatchify: exact round trip and the MAE ('nchpwq->nhwpqc') layout."""

import pytest
import torch

from colormae.models import patchify, unpatchify


@pytest.mark.parametrize("hw", [(32, 32), (16, 24)])
def test_round_trip_is_exact(hw, gen):
    images = torch.randn(2, 3, *hw, generator=gen)
    x = patchify(images, 4)
    assert x.shape == (2, hw[0] // 4 * hw[1] // 4, 4 * 4 * 3)
    assert torch.equal(unpatchify(x, 4, (hw[0] // 4, hw[1] // 4)), images)


def test_layout_row_major_patches_and_pqc_order(gen):
    images = torch.randn(1, 3, 8, 12, generator=gen)
    x = patchify(images, 4)  # grid 2 x 3
    for i in range(2):
        for j in range(3):
            block = images[0, :, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4]  # (C, p, q)
            assert torch.equal(x[0, i * 3 + j], block.permute(1, 2, 0).reshape(-1))


def test_bad_sizes_raise():
    with pytest.raises(ValueError):
        patchify(torch.zeros(1, 3, 10, 8), 4)
    with pytest.raises(ValueError):
        unpatchify(torch.zeros(1, 5, 48), 4, 2)
