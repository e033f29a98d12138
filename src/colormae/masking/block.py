"""BEiT's block-wise masking (Bao et al. 2022, Algorithm 1), the usual data-independent baseline.

BEiT masks rectangles of random area (at least ``min_patches`` = 4) and aspect ratio (log-uniform in
[0.3, 1/0.3]) at random places until the target count is reached. A block is accepted only when it masks
at least one new patch and no more than the number still needed; after ten failed proposals in a row BEiT
gives up on that image. Here all images of the batch run those rounds together (one Python loop over
rounds, none over the batch), each with its own proposals and its own give-up counter.

Exact count: acceptance never overshoots, so a row can only fall short (when it gave up). Short rows are
padded with uniformly random unmasked patches until exactly ``L - int(L * (1 - ratio))`` are masked
(done by ``topk`` over "already masked first, then random"; the same rule would trim a row at random if
one ever had too many).
"""

from __future__ import annotations

import math

import torch

from colormae.masking.base import (
    DrawnMasks,
    Grid,
    Masks,
    check_batch_size,
    check_ratio,
    mask_device,
    mask_from_scores,
    num_keep,
    parse_grid,
    visible_ids,
)

#: BEiT's defaults: smallest block area in patches, aspect-ratio bounds, proposals before giving up.
MIN_PATCHES = 4
MIN_ASPECT = 0.3
MAX_TRIES = 10


class BlockMasking(DrawnMasks):
    """Block-wise masks (BEiT): random rectangles until ``L - int(L*(1-ratio))`` patches are masked.

    Args:
        ratio: fraction of patches to mask, in (0, 1).
        min_patches: smallest block area, in patches (BEiT: 4).
        max_patches: largest block area (BEiT: None = no limit beyond the count still needed).
        min_aspect: blocks have aspect ratio (height/width) log-uniform in ``[min_aspect, 1/min_aspect]``.
    """

    def __init__(self, ratio: float = 0.75, *, min_patches: int = MIN_PATCHES, max_patches: int | None = None,
                 min_aspect: float = MIN_ASPECT) -> None:
        self.ratio = check_ratio(ratio)
        self.min_patches = min_patches
        self.max_patches = max_patches
        self.log_aspect = (math.log(min_aspect), math.log(1 / min_aspect))

    def _draw(self, batch_size: int, grid: Grid, generator: torch.Generator | None,
              device: torch.device | str | None, *, with_ids: bool) -> Masks:
        b = check_batch_size(batch_size)
        gh, gw = parse_grid(grid)
        dev = mask_device(device, generator)
        length = gh * gw
        target = length - num_keep(length, self.ratio)
        mask = self._blocks(b, gh, gw, target, generator, dev).view(b, length)
        # Pad (or trim) to the exact count: masked patches score in [1, 2), the others in [0, 1).
        scores = mask.to(torch.float32) + torch.rand(b, length, generator=generator, device=dev)
        mask = mask_from_scores(scores, target, largest=True, with_ids=False).mask.logical_not_()
        return Masks(mask, visible_ids(mask, length - target) if with_ids else None)

    def _blocks(self, b: int, gh: int, gw: int, target: int, generator: torch.Generator | None,
                dev: torch.device) -> torch.Tensor:
        """BEiT's rounds for all rows at once: bool ``(B, gh, gw)`` with at most ``target`` True per row."""
        mask = torch.zeros(b, gh, gw, dtype=torch.bool, device=dev)
        count = torch.zeros(b, dtype=torch.long, device=dev)
        fails = torch.zeros(b, dtype=torch.long, device=dev)
        rows = torch.arange(gh, device=dev)
        cols = torch.arange(gw, device=dev)
        cap = target if self.max_patches is None else min(target, self.max_patches)
        lo, hi = self.log_aspect
        # Each round either adds patches to a row or counts a failure, so this ends within
        # target * MAX_TRIES rounds; in practice a few dozen.
        for _ in range(target * MAX_TRIES + 1):
            active = (count < target) & (fails < MAX_TRIES)
            if not bool(active.any()):
                break
            u = torch.rand(b, 4, generator=generator, device=dev)
            most = (target - count).clamp(max=cap).to(torch.float32)
            area = self.min_patches + (most - self.min_patches) * u[:, 0]
            aspect = torch.exp(lo + (hi - lo) * u[:, 1])
            h = torch.round(torch.sqrt(area * aspect)).long()
            w = torch.round(torch.sqrt(area / aspect)).long()
            fits = (h < gh) & (w < gw) & (h > 0) & (w > 0)
            top = (u[:, 2] * (gh - h + 1).clamp(min=1)).long()
            left = (u[:, 3] * (gw - w + 1).clamp(min=1)).long()
            in_rows = (rows >= top[:, None]) & (rows < (top + h)[:, None])
            in_cols = (cols >= left[:, None]) & (cols < (left + w)[:, None])
            block = in_rows[:, :, None] & in_cols[:, None, :]
            new = (block & ~mask).sum(dim=(1, 2))
            accept = active & fits & (new > 0) & (new <= target - count)
            mask |= block & accept[:, None, None]
            count += torch.where(accept, new, 0)
            fails = torch.where(accept, 0, fails + active.long())
        return mask

    def __repr__(self) -> str:
        return f"BlockMasking(ratio={self.ratio})"
