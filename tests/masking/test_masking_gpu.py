"""The strategies on CUDA: masks made on the device, exact counts, Algorithm 1 reproduced with CUDA draws."""

import pytest
import torch

from colormae.masking import BlockMasking, ColorNoiseMasking, RandomMasking, num_masked

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def _cuda_gen(seed: int = 0) -> torch.Generator:
    return torch.Generator(device="cuda").manual_seed(seed)


@pytest.mark.parametrize("make", [
    lambda: RandomMasking(0.75), lambda: RandomMasking(0.6, noise="white"), lambda: BlockMasking(0.75),
    lambda: ColorNoiseMasking(torch.randn(64, 32, 32), 0.75),
    lambda: ColorNoiseMasking(torch.randn(64, 32, 32), 0.75, bank_dtype="float16"),
    lambda: ColorNoiseMasking(torch.randn(64, 32, 32), 0.75, mode="reference"),
    lambda: ColorNoiseMasking("red", 0.75, mode="online"),
])
def test_masks_are_made_on_the_device_with_exact_counts(make):
    strategy = make()
    mask = strategy(300, (14, 12), generator=_cuda_gen(), device="cuda")
    assert mask.device.type == "cuda" and mask.dtype == torch.bool
    assert (mask.sum(1) == num_masked(168, strategy.ratio)).all()
    again = strategy(300, (14, 12), generator=_cuda_gen(), device="cuda")
    assert torch.equal(mask, again)


def test_independent_on_cuda_matches_its_draws():
    bank = torch.randn(16, 20, 20)
    strategy = ColorNoiseMasking(bank, 0.75)
    mask = strategy(128, 8, generator=_cuda_gen(3), device="cuda").cpu()
    index, offsets = strategy.last_indices.cpu(), strategy.last_offsets.cpu()
    flips = strategy.last_flips.cpu()
    for i in range(128):
        top, left = offsets[i].tolist()
        window = bank[index[i], top:top + 8, left:left + 8]
        window = window.flip(1) if flips[i, 0] else window
        window = window.flip(0) if flips[i, 1] else window
        window = window * (1 if window.max() >= 0 else -1)
        visible = set(torch.topk(window.flatten(), 16).indices.tolist())
        assert visible == set(torch.nonzero(~mask[i]).flatten().tolist())


def test_bank_is_moved_once():
    strategy = ColorNoiseMasking(torch.randn(8, 16, 16), bank_dtype="float16")
    strategy(4, 8, generator=_cuda_gen(), device="cuda")
    strategy(4, 8, generator=_cuda_gen(), device=torch.device("cuda", torch.cuda.current_device()))
    assert len(strategy._on_device) == 1
    assert next(iter(strategy._on_device.values())).dtype == torch.float16
