"""Between boolean masks and the index tensors the MAE gathers with (no host-device sync when told ``K``).

A mask is ``bool (B, L)``, True = masked, with the same number ``K`` of visible patches in every row.
The model needs ``ids_keep (B, K)``: ``K`` is a shape, so deriving it from the mask's values costs a
host-device sync (and a graph break under ``torch.compile``). Callers that know ``K`` (every masking
strategy does: ``int(L * (1 - ratio))``) pass it, or pass ``ids_keep`` itself, and nothing syncs.

:data:`CHECK_MASKS` (or the environment variable ``COLORMAE_CHECK_MASKS=1``) turns on a check, with
syncs, that each row has ``K`` visible patches and that given ``ids_keep`` are the mask's visible patches.
"""

from __future__ import annotations

import os

import torch

#: Debug switch: verify masks and ids against each other on every forward (costs host-device syncs).
CHECK_MASKS: bool = os.environ.get("COLORMAE_CHECK_MASKS", "") not in ("", "0")


def visible_count(mask: torch.Tensor) -> int:
    """``K``, the visible patches per row of ``mask (B, L)``; ValueError when rows differ (syncs)."""
    if mask.dim() != 2:
        raise ValueError(f"mask must be (B, L), got shape {tuple(mask.shape)}")
    visible = (~mask).sum(dim=1)
    if visible.numel() and bool((visible != visible[0]).any()):
        raise ValueError("every row of the mask needs the same number of visible patches")
    return int(visible[0]) if visible.numel() else 0


def mask_to_ids(mask: torch.Tensor, num_keep: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``ids_keep`` and ``ids_restore`` of a mask, as MAE's ``random_masking`` returns them.

    Args:
        mask: bool ``(B, L)``, True = masked, the same number of visible patches ``K`` in every row.
        num_keep: ``K`` when the caller knows it (no host-device sync); ``None`` reads it from the mask
            (two syncs, and a check that every row has the same count).

    Returns:
        ``ids_keep: (B, K)`` int64, the visible patch indices in ascending order, and
        ``ids_restore: (B, L)`` int64 such that ``torch.gather(torch.cat([visible, masked], 1), 1,
        ids_restore)`` puts the tokens back in patch order (``visible`` gathered by ``ids_keep``, ``masked``
        the masked tokens in ascending patch order).
    """
    if mask.dim() != 2:
        raise ValueError(f"mask must be (B, L), got shape {tuple(mask.shape)}")
    if num_keep is None:
        num_keep = visible_count(mask)
    elif CHECK_MASKS and visible_count(mask) != num_keep:
        raise ValueError(f"the mask keeps {visible_count(mask)} patches per row, not {num_keep}")
    # A stable sort of the 0/1 mask lists visible patches first, each group in patch order.
    ids_shuffle = torch.argsort(mask.to(torch.uint8), dim=1, stable=True)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    return ids_shuffle[:, :num_keep], ids_restore


def check_ids(mask: torch.Tensor, ids_keep: torch.Tensor) -> None:
    """ValueError unless ``ids_keep (B, K)`` lists the visible patches of ``mask`` in order (syncs)."""
    expected, _ = mask_to_ids(mask, visible_count(mask))
    if ids_keep.shape != expected.shape or not torch.equal(ids_keep, expected.to(ids_keep.device)):
        raise ValueError("ids_keep are not the ascending visible patches of the mask")
