"""What the pretraining step reads: a resumable loader and the function that turns its batches into
normalised images on the device, for either data backend.

- ``"cpu"``: workers decode and augment (RandomResizedCrop(0.2, 1.0) bicubic, flip: ``mae_transform``'s
  draws) and hand over 8-bit crops, which the step normalises on the device
  (:mod:`colormae.data.device_normalize`).
- ``"gpu"``: workers read file bytes and draw the same crop boxes and flips
  (:mod:`colormae.data.gpu_reader`); the step decodes the batch on the device and augments it there
  (:mod:`colormae.data.gpu_augment`). Same samples, same boxes, so a run resumes exactly either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch.utils.data import DataLoader, Dataset

from colormae.errors import UserError
from colormae.train.distributed import DistInfo
from colormae.train.loader import build_train_loader

DataBackend = Literal["cpu", "gpu"]
BACKENDS = ("cpu", "gpu")


@dataclass
class PretrainData:
    """A pretraining data source.

    Attributes:
        dataset: the map-style data set the loader reads (before seeding).
        loader: :func:`build_train_loader` over it (resumable, persistent workers).
        images: ``batch -> (B, 3, H, W)`` float32 normalised images on the device.
    """

    dataset: Dataset
    loader: DataLoader
    images: Callable[[Any], torch.Tensor]


def build_pretrain_data(data: str, img_size: int | tuple[int, int], *, backend: str = "cpu",
                        batch_size: int, seed: int, dist: DistInfo | None = None,
                        num_workers: int | str | None = None, device: torch.device | str = "cpu",
                        in_chans: int = 3) -> PretrainData:
    """The training split of ``data`` (a built-in name or an image folder) for MAE pretraining.

    Args:
        backend: ``"cpu"`` or ``"gpu"`` (module docstring); ``"gpu"`` works on a CPU device too (slowly).
        num_workers: worker processes, or ``None`` / ``"auto"`` (the CPUs per local process).
        in_chans: the model's input channels; the GPU path reads RGB images only.
    """
    from colormae.data import build_dataset, mae_transform, to_rgb
    from colormae.data.device_normalize import DeviceNormalize, mae_uint8_transform

    dev = torch.device(device)
    if backend not in BACKENDS:
        raise UserError(f"data_backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "cpu":
        if in_chans == 3:  # 8-bit RGB crops from the workers, normalised on the device
            transform, images = mae_uint8_transform(img_size), DeviceNormalize(dev)
        else:
            transform, images = mae_transform(img_size), _to_device(dev)
        dataset = build_dataset(data, split="train", transform=transform)
        loader = build_train_loader(dataset, batch_size=batch_size, seed=seed, dist=dist,
                                    num_workers=num_workers, device=dev, drop_last=True)
        return PretrainData(dataset, loader, lambda batch: images(batch[0]))
    if in_chans != 3:
        raise UserError(f"data_backend=gpu reads RGB images; this model takes {in_chans} channels "
                        "(use data_backend=cpu)")
    from colormae.data.gpu_augment import GpuAugment
    from colormae.data.gpu_reader import EncodedCrops, collate_encoded

    dataset = EncodedCrops(build_dataset(data, split="train", transform=to_rgb))
    loader = build_train_loader(dataset, batch_size=batch_size, seed=seed, dist=dist, num_workers=num_workers,
                                device=dev, drop_last=True, collate_fn=collate_encoded)
    return PretrainData(dataset, loader, GpuAugment(img_size, dev))


def _to_device(dev: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda images: images.to(dev, non_blocking=True)
