"""What the dense jobs feed a model from a data source: its images' normalisation (``normalize=auto |
imagenet | dataset | none``, as pretraining and evaluation take it) and the warning when a band is dropped.

``dataset`` statistics of dense data come from a stats file in the data folder (``colormae data stats``
writes one; found as :func:`colormae.data.stats.find_stats_file` finds it), else they are computed on the
spot from at most :data:`MAX_STATS_IMAGES` evenly spaced train images (one line says so): a dense folder
holds masks beside its images, so ``data stats DIR`` cannot read it as an image folder, and a dense train
split is small enough to read once. ``auto`` is ``imagenet`` for 3 channels, ``dataset`` otherwise.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from colormae.data.normalization import NORMALIZE, Normalization, identity, imagenet
from colormae.data.readers import DROPPED_BAND, adapt_channels, drops_band, to_tensor
from colormae.errors import UserError

#: At most this many train images are read to compute ``normalize=dataset`` statistics on the spot.
MAX_STATS_IMAGES = 1000


class SourceImages(Dataset):
    """The images of a dense source as float ``(channels, H, W)`` tensors in [0, 1] (for statistics)."""

    def __init__(self, source: Any, channels: int) -> None:
        self.source, self.channels = source, channels

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> torch.Tensor:
        return to_tensor(adapt_channels(self.source.image(index), self.channels))


def data_normalization(normalize: str, channels: int, data: str, source: Any, *, progress: bool = True,
                       say: bool = True) -> Normalization:
    """The :class:`Normalization` of ``source`` (the train split of ``data``) read at ``channels``
    channels, for ``normalize`` (module docstring)."""
    from colormae.data.resolve import dataset_normalization
    from colormae.data.stats import channel_stats, find_stats_file
    from colormae.dense.scenes import parse_spec

    if normalize not in NORMALIZE:
        raise UserError(f"normalize={normalize!r}: choose one of {', '.join(NORMALIZE)}")
    if normalize == "auto":
        normalize = "imagenet" if channels == 3 else "dataset"
    if normalize == "imagenet":
        return imagenet(channels)
    if normalize == "none":
        return identity(channels)
    path = None if parse_spec(data) is not None else find_stats_file(data)
    if path is not None:
        return dataset_normalization(data, channels, stats_file=str(path))
    with torch.random.fork_rng(devices=[]):  # the loader draws a seed: leave the run's random stream alone
        stats = channel_stats(SourceImages(source, channels), max_images=MAX_STATS_IMAGES, progress=progress,
                              desc=f"stats of {data}")
    where = f"{data} (computed from {stats.images} train images)"
    if say:
        from colormae.progress import write

        write(f"normalize=dataset: per-band statistics of {where}")
    return Normalization(stats.mean, stats.std, "dataset", source=where)


def dropped_band_warning(source: Any, channels: int) -> str | None:
    """The warning line when reading ``source``'s images at ``channels`` channels drops a band of data (a
    folder of 4-band TIFF / ``.npy`` files, or 4-band scenes, read as RGB), else ``None``."""
    files = getattr(source, "images", None)
    if (source.channels, channels) != (4, 3) or (files and not drops_band(files[0], 4, 3)):
        return None
    return f"{source.name}: {DROPPED_BAND}"
