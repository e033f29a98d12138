"""What the pretraining step reads: a resumable loader and the function that turns its batches into
normalised images on the device, for either data backend.

- ``"cpu"``: workers decode and augment (``mae_transform``: RandomResizedCrop(0.2, 1.0) bicubic, flip,
  normalise); the step moves the batch to the device.
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

    dev = torch.device(device)
    if backend not in BACKENDS:
        raise UserError(f"data_backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "cpu":
        dataset = build_dataset(data, split="train", transform=mae_transform(img_size))
        loader = build_train_loader(dataset, batch_size=batch_size, seed=seed, dist=dist,
                                    num_workers=num_workers, device=dev, drop_last=True)
        return PretrainData(dataset, loader, lambda batch: batch[0].to(dev, non_blocking=True))
    if in_chans != 3:
        raise UserError(f"data_backend=gpu reads RGB images; this model takes {in_chans} channels "
                        "(use data_backend=cpu)")
    from colormae.data.gpu_augment import GpuAugment
    from colormae.data.gpu_reader import EncodedCrops, collate_encoded

    dataset = EncodedCrops(build_dataset(data, split="train", transform=to_rgb))
    loader = build_train_loader(dataset, batch_size=batch_size, seed=seed, dist=dist, num_workers=num_workers,
                                device=dev, drop_last=True, collate_fn=collate_encoded)
    return PretrainData(dataset, loader, GpuAugment(img_size, dev))
