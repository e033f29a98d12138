"""Masks in other libraries' terms (``mask_to_ids`` lives in :mod:`colormae.models.ids`, re-exported by
:mod:`colormae.masking`)."""

from __future__ import annotations

import torch


def to_hf_noise(mask: torch.Tensor) -> torch.Tensor:
    """Noise for Hugging Face ``ViTMAEForPreTraining(pixel_values, noise=...)`` that masks exactly ``mask``.

    HF's ``random_masking`` argsorts the noise ascending and keeps the first ``int(L * (1 - mask_ratio))``
    patches: visible patches get values in ``[0, 0.5)`` and masked ones ``[1, 1.5)``, each increasing with
    the patch index, so with the same ratio HF keeps our visible patches, in ascending order
    (the same ``ids_keep`` as :func:`colormae.models.ids.mask_to_ids`), whatever its sort's tie rule.

    Args:
        mask: bool ``(B, L)``, True = masked.

    Returns:
        float32 ``(B, L)`` on the mask's device.
    """
    length = mask.shape[-1]
    position = torch.arange(length, device=mask.device, dtype=torch.float32) / (2 * length)
    return mask.to(torch.float32) + position
