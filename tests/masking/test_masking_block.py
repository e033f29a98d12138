"""BlockMasking: BEiT's rectangles, padded to the exact count."""

import torch

from colormae.masking import BlockMasking, num_masked
from colormae.masking.block import MIN_PATCHES


def _components(grid: torch.Tensor) -> list[int]:
    """Sizes of the 4-connected components of True cells of a (H, W) bool grid."""
    seen = torch.zeros_like(grid)
    sizes = []
    h, w = grid.shape
    for i in range(h):
        for j in range(w):
            if grid[i, j] and not seen[i, j]:
                stack, size = [(i, j)], 0
                seen[i, j] = True
                while stack:
                    a, b = stack.pop()
                    size += 1
                    for x, y in ((a + 1, b), (a - 1, b), (a, b + 1), (a, b - 1)):
                        if 0 <= x < h and 0 <= y < w and grid[x, y] and not seen[x, y]:
                            seen[x, y] = True
                            stack.append((x, y))
                sizes.append(size)
    return sizes


def test_beit_rounds_never_overshoot_and_mostly_reach_the_count(gen):
    """Before padding: at most the target per row, most rows exactly on it, few large regions."""
    target = num_masked(196, 0.4)
    blocks = BlockMasking(0.4)._blocks(64, 14, 14, target, gen, torch.device("cpu"))
    counts = blocks.view(64, -1).sum(1)
    assert (counts <= target).all()
    assert (counts == target).float().mean() > 0.7
    assert (counts >= target - MIN_PATCHES).all()
    sizes = [s for grid in blocks for s in _components(grid)]
    assert sum(sizes) / len(sizes) > 3 * MIN_PATCHES


def test_padding_reaches_the_exact_count_on_a_tiny_grid(gen):
    """On a 2x3 grid no block fits (BEiT needs h < 2), so every mask is all padding."""
    mask = BlockMasking(0.5)(50, (2, 3), generator=gen)
    assert (mask.sum(dim=1) == 3).all()
    assert torch.unique(mask, dim=0).shape[0] > 5


def test_block_masks_are_few_large_regions(gen):
    mask = BlockMasking(0.5)(16, 14, generator=gen).view(16, 14, 14)
    random = (torch.rand(16, 196, generator=gen).argsort(1) < 98).view(16, 14, 14)
    block_regions = sum(len(_components(m)) for m in mask) / 16
    random_regions = sum(len(_components(m)) for m in random) / 16
    assert block_regions < random_regions / 2
