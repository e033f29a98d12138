"""A map-style data set over encoded image bytes: the common half of tar shards and Hugging Face data.

A subclass says where sample ``i``'s bytes are (:meth:`EncodedImages.raw`); this class decodes them with
:func:`colormae.data.readers.read_image_bytes` (the folder readers: 8/16-bit, multi-band, ``.npy``),
applies the transform, and skips and counts unreadable samples exactly as
:class:`colormae.data.SafeImageFolder` does (a shared-memory byte per sample, set by whichever DataLoader
worker fails on it, so :attr:`skipped` and :func:`colormae.data.skipped_total` see every worker's marks).

Being map-style, it takes the training loader every folder takes (:mod:`colormae.train.loader`): the
sample order is a seeded permutation of ``(seed, epoch)``, split evenly across ranks, and resume skips
exactly; crops and flips are seeded by (seed, epoch, index). The GPU data path reads :meth:`raw` bytes
directly (:class:`colormae.data.gpu_reader.EncodedCrops`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.data import Dataset

from colormae.data.folder import UNREADABLE, _note
from colormae.data.readers import UnreadableImage, can_convert, channels_of, read_image_bytes
from colormae.data.transforms import tensor_transform
from colormae.errors import UserError


class EncodedImages(Dataset):
    """``(transform(image), label)`` of encoded images (module docstring).

    Args:
        size: number of samples.
        classes: class names (label ``k`` is ``classes[k]``).
        native_channels, dtype: what the images hold (e.g. ``3``, ``"uint8"``).
        channels: channels the images must have (``None``: ``native_channels``); UserError if the
            images cannot be converted to that many.
        name: the data as the user wrote it (for messages).

    Attributes:
        classes, channels, native_channels, dtype, transform: as for :class:`SafeImageFolder`.
    """

    def __init__(self, size: int, classes: list[str], native_channels: int, dtype: str | None, *,
                 channels: int | None = None, transform: Callable | None = None, name: str = "") -> None:
        if size <= 0:
            raise UserError(f"{name}: no images")
        if channels is not None and not can_convert(native_channels, channels):
            raise UserError(f"{name}: its images have {native_channels} channel(s), which cannot be used as "
                            f"in_chans={channels}")
        self.size, self.classes, self.name = size, list(classes), name
        self.native_channels, self.dtype = native_channels, dtype
        self.channels = channels or native_channels
        self.transform = transform if transform is not None else tensor_transform(self.channels)
        self.bad_files: list[str] = []
        self._failed = torch.zeros(size, dtype=torch.uint8).share_memory_()
        self._warned = False

    def __len__(self) -> int:
        return self.size

    @property
    def targets(self) -> list[int]:
        """The label of every sample (read from the index, no image decoded)."""
        return [self.label(i) for i in range(self.size)]

    def raw(self, index: int) -> tuple[bytes, str, int]:
        """Sample ``index`` as ``(file bytes, file-name ending such as ".jpg", label)``."""
        raise NotImplementedError

    def label(self, index: int) -> int:
        """Sample ``index``'s label (subclasses answer without reading the image where they can)."""
        return self.raw(index)[2]

    def describe(self, index: int) -> str:
        """Where sample ``index`` is, for messages."""
        return f"{self.name} sample {index}"

    @property
    def skipped(self) -> int:
        """Distinct unreadable samples met so far by this process and its DataLoader workers."""
        return len(self.bad_files) + int(self._failed.sum())

    def read(self, index: int) -> tuple[object, int]:
        """``(decoded image, label)`` of the first readable sample from ``index`` on (marking the others)."""
        for offset in range(self.size):
            k = (index + offset) % self.size
            if self._failed[k]:
                continue
            try:
                data, suffix, label = self.raw(k)
                image = read_image_bytes(data, suffix)
                if not can_convert(channels_of(image), self.channels):
                    raise UnreadableImage(f"{channels_of(image)} channels, not {self.channels}")
            except UNREADABLE:
                self.mark_unreadable(k)
                continue
            return image, label
        raise UserError(f"{self.name}: no readable image left")

    def mark_unreadable(self, index: int) -> None:
        """Count sample ``index`` as unreadable (once; a warning for the first)."""
        self._failed[index] = 1
        if not self._warned:
            self._warned = True
            _note(f"skipping unreadable image {self.describe(index)} (the total is reported at the end)")

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.read(index)
        return self.transform(image), label
