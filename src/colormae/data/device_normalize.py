"""8-bit images from the workers, normalised on the device.

The CPU path's workers stop at the 8-bit crop (``mae_uint8_transform``: the draws and PIL operations of
:func:`colormae.data.mae_transform` without ``ToTensor`` + ``Normalize``) and :class:`DeviceNormalize`
turns the batch into float on the device. Same images (up to float rounding), a quarter of the bytes
through the workers' shared memory, the pinned copy and the host-to-device transfer, and no per-sample
float work in the workers.
"""

from __future__ import annotations

import torch
from torchvision import transforms as T

from colormae.data.transforms import BICUBIC, CROP_SCALE, MEAN, STD, ToChannels, crop_ratio, image_hw


def mae_uint8_transform(img_size: int | tuple[int, int]) -> T.Compose:
    """8-bit image -> ``uint8 (3, H, W)``: RGB, RandomResizedCrop(scale=(0.2, 1.0), bicubic), horizontal
    flip; the same random draws and operations, in the same order, as :func:`colormae.data.mae_transform`
    before its float conversion."""
    hw = image_hw(img_size)
    return T.Compose([
        ToChannels(3),
        T.RandomResizedCrop(hw, scale=CROP_SCALE, ratio=crop_ratio(hw), interpolation=BICUBIC,
                            antialias=True),
        T.RandomHorizontalFlip(),
        T.PILToTensor(),
    ])


class DeviceNormalize:
    """``images (B, C, H, W)``, uint8 or float with values in [0, 255] -> float32 ``(x / 255 - mean) / std``
    on ``device`` (ImageNet mean / std by default, as every CPU transform)."""

    def __init__(self, device: torch.device | str, mean: tuple[float, ...] = MEAN,
                 std: tuple[float, ...] = STD) -> None:
        self.device = torch.device(device)
        self.shift = torch.tensor(mean, device=self.device).view(1, -1, 1, 1) * 255.0
        self.scale = 1.0 / (torch.tensor(std, device=self.device).view(1, -1, 1, 1) * 255.0)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device, non_blocking=True)
        return (x.float() - self.shift).mul_(self.scale)
