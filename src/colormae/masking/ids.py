"""Between boolean masks and the index tensors MAE-style models gather with."""

from __future__ import annotations

import torch


def mask_to_ids(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``ids_keep`` and ``ids_restore`` of a mask, as MAE's ``random_masking`` returns them.

    Args:
        mask: bool ``(B, L)``, True = masked, the same number of visible patches ``K`` in every row.

    Returns:
        ``ids_keep: (B, K)`` int64, the visible patch indices in ascending order, and
        ``ids_restore: (B, L)`` int64 such that ``torch.gather(torch.cat([visible, masked], 1), 1,
        ids_restore)`` puts the tokens back in patch order (``visible`` gathered by ``ids_keep``, ``masked``
        the masked tokens in ascending patch order).
    """
    if mask.dim() != 2:
        raise ValueError(f"mask must be (B, L), got shape {tuple(mask.shape)}")
    visible = (~mask).sum(dim=1)
    if visible.numel() and bool((visible != visible[0]).any()):
        raise ValueError("every row of the mask needs the same number of visible patches")
    keep = int(visible[0]) if visible.numel() else 0
    # A stable sort of the 0/1 mask lists visible patches first, each group in patch order.
    ids_shuffle = torch.argsort(mask.to(torch.uint8), dim=1, stable=True)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    return ids_shuffle[:, :keep], ids_restore


def to_hf_noise(mask: torch.Tensor) -> torch.Tensor:
    """Noise for Hugging Face ``ViTMAEForPreTraining(pixel_values, noise=...)`` that masks exactly ``mask``.

    HF's ``random_masking`` argsorts the noise ascending and keeps the first ``int(L * (1 - mask_ratio))``
    patches: visible patches get values in ``[0, 0.5)`` and masked ones ``[1, 1.5)``, each increasing with
    the patch index, so with the same ratio HF keeps our visible patches, in ascending order
    (the same ``ids_keep`` as :func:`mask_to_ids`), whatever its sort's tie rule.

    Args:
        mask: bool ``(B, L)``, True = masked.

    Returns:
        float32 ``(B, L)`` on the mask's device.
    """
    length = mask.shape[-1]
    position = torch.arange(length, device=mask.device, dtype=torch.float32) / (2 * length)
    return mask.to(torch.float32) + position
