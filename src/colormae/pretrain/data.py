"""What the pretraining step reads: a resumable loader and the function that turns its batches into
normalised images on the device, for either data backend.

- ``"cpu"``: workers decode and augment (RandomResizedCrop(0.2, 1.0) bicubic, flip: ``mae_transform``'s
  draws) and hand over 8-bit crops, which the step normalises on the device
  (:mod:`colormae.data.device_normalize`).
- ``"gpu"``: workers read file bytes and draw the same crop boxes and flips
  (:mod:`colormae.data.gpu_reader`); the step decodes the batch on the device and augments it there
  (:mod:`colormae.data.gpu_augment`). Same samples, same boxes, so a run resumes exactly either way.

Tar shards and Hugging Face data sets (:mod:`colormae.data.shards`, :mod:`colormae.data.hf`) are
map-style data sets like folders, so both backends, the per-rank split and exact resume take them as
they are; on the ``"gpu"`` path the workers hand over the JPEG bytes stored in the shard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from colormae.data.normalization import Normalization
from colormae.errors import UserError
from colormae.train.distributed import DistInfo
from colormae.train.loader import build_train_loader

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


def build_pretrain_data(dataset: Dataset, img_size: int | tuple[int, int], norm: Normalization | None = None,
                        *, backend: str = "cpu", batch_size: int, seed: int, dist: DistInfo | None = None,
                        num_workers: int | str | None = None, device: torch.device | str = "cpu",
                        drop_last: bool = True) -> PretrainData:
    """Pretraining batches from ``dataset`` (the training split, from ``colormae.data.build_dataset``).

    Args:
        norm: the input normalisation (default: ImageNet RGB); its channel count is the model's.
        backend: ``"cpu"`` or ``"gpu"`` (module docstring); ``"gpu"`` works on a CPU device too (slowly).
        num_workers: worker processes, or ``None`` / ``"auto"`` (the CPUs per local process).
        drop_last: drop each epoch's last, partial batch (and cut the data to a multiple of the ranks);
            ``False`` keeps it (and pads), as mmengine's sampler does.
    """
    from colormae.data import mae_transform, to_rgb
    from colormae.data.device_normalize import DeviceNormalize, mae_uint8_transform
    from colormae.data.normalization import imagenet
    from colormae.data.transforms import crop_ratio

    norm = norm or imagenet(3)
    dev = torch.device(device)
    if backend not in BACKENDS:
        raise UserError(f"data_backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    eight_bit_rgb = norm.channels == 3 and getattr(dataset, "dtype", "uint8") == "uint8"
    if backend == "gpu" and dev.type != "cuda" and (dist is None or dist.is_main):
        from colormae.progress import warn

        warn(f"data_backend=gpu on a {dev.type} device: images are decoded and augmented on the CPU in "
             "the main process, slower than data_backend=cpu (its loader workers)")
    if backend == "cpu":
        if eight_bit_rgb:  # 8-bit RGB crops from the workers, normalised on the device
            dataset.transform = mae_uint8_transform(img_size)
            images: Callable[[torch.Tensor], torch.Tensor] = DeviceNormalize(dev, norm.mean, norm.std)
        else:
            dataset.transform, images = mae_transform(img_size, norm), _to_device(dev)
        loader = build_train_loader(dataset, batch_size=batch_size, seed=seed, dist=dist,
                                    num_workers=num_workers, device=dev, drop_last=drop_last)
        return PretrainData(dataset, loader, lambda batch: images(batch[0]))
    if not eight_bit_rgb:
        raise UserError(f"data_backend=gpu reads 8-bit RGB images; this data has {norm.channels} channels of "
                        f"{getattr(dataset, 'dtype', 'uint8')} (use data_backend=cpu)")
    from colormae.data.gpu_augment import GpuAugment
    from colormae.data.gpu_reader import EncodedCrops, collate_encoded

    dataset.transform = to_rgb
    encoded = EncodedCrops(dataset, ratio=crop_ratio(img_size))
    loader = build_train_loader(encoded, batch_size=batch_size, seed=seed, dist=dist, num_workers=num_workers,
                                device=dev, drop_last=drop_last, collate_fn=collate_encoded)
    return PretrainData(encoded, loader, GpuAugment(img_size, dev, mean=norm.mean, std=norm.std))


def _to_device(dev: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda images: images.to(dev, non_blocking=True)
