"""The worker half of the GPU data path: read file bytes and draw the crop, decode nothing.

For ``data_backend="gpu"`` a DataLoader worker only reads a JPEG's bytes and its header (for the image
size) and draws the MAE crop box and flip; :class:`colormae.data.gpu_augment.GpuAugment` then decodes the
whole batch on the device (nvJPEG through ``torchvision.io.decode_jpeg``) and crops, resizes, flips and
normalises it there.

The draws are the CPU path's own: ``RandomResizedCrop.get_params(image, (0.2, 1.0), (3/4, 4/3))`` then
``torch.rand(1) < 0.5`` for the flip, in that order, from the global torch RNG. Under
:class:`colormae.train.loader.SeededDataset` (RNG seeded by (seed, epoch, index)) a sample therefore gets
the very box and flip that :func:`colormae.data.mae_transform` draws for it, and resume stays exact.

Files that are not baseline-decodable JPEGs (PNG, CMYK JPEG, ...) and samples of in-memory data sets
(``mnist5k``, ``photos``) are decoded here, on the CPU, and travel as ``uint8 (3, H, W)`` instead.
An unreadable file (its header fails) is replaced by the next readable one and counted, as
:class:`colormae.data.SafeImageFolder` does.
"""

from __future__ import annotations

import io
import warnings
from typing import NamedTuple

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms as T
from torchvision.datasets import ImageFolder
from torchvision.transforms.functional import pil_to_tensor

from colormae.data.encoded import EncodedImages
from colormae.data.folder import UNREADABLE
from colormae.data.readers import read_image_bytes, sniff_suffix
from colormae.data.transforms import CROP_SCALE, to_rgb
from colormae.data.transforms import RATIO as TRANSFORM_RATIO
from colormae.errors import UserError

#: The CPU path's RandomResizedCrop ranges (one declaration, in colormae.data.transforms).
SCALE, RATIO = CROP_SCALE, TRANSFORM_RATIO
#: JPEG modes the device decoder turns into RGB (anything else is decoded on the CPU).
DEVICE_MODES = ("RGB", "L")


class EncodedSample(NamedTuple):
    """One sample as a worker hands it over.

    Attributes:
        payload: JPEG file bytes ``uint8 (N,)``, or an already decoded image ``uint8 (3, H, W)``.
        box: ``(top, left, height, width)`` of the crop in the full image, int64 ``(4,)``.
        flip: horizontal flip, bool ``()``.
        label: class index.
    """

    payload: torch.Tensor
    box: torch.Tensor
    flip: torch.Tensor
    label: int


class EncodedBatch(NamedTuple):
    """A batch of :class:`EncodedSample`: ``payloads`` (list of B tensors), ``boxes (B, 4)`` int64,
    ``flips (B,)`` bool, ``labels (B,)`` int64."""

    payloads: list[torch.Tensor]
    boxes: torch.Tensor
    flips: torch.Tensor
    labels: torch.Tensor


def collate_encoded(samples: list[EncodedSample]) -> EncodedBatch:
    """DataLoader ``collate_fn``: payloads stay a list (their sizes differ), the rest is stacked."""
    return EncodedBatch(
        payloads=[s.payload for s in samples],
        boxes=torch.stack([s.box for s in samples]),
        flips=torch.stack([s.flip for s in samples]),
        labels=torch.tensor([int(s.label) for s in samples], dtype=torch.int64),
    )


def draw_crop(image: Image.Image, scale: tuple[float, float] = SCALE,
              ratio: tuple[float, float] = RATIO) -> tuple[torch.Tensor, torch.Tensor]:
    """The crop box and flip :func:`colormae.data.mae_transform` draws for ``image`` (global torch RNG,
    same calls in the same order; only the image size is read, so a lazily opened file is not decoded)."""
    top, left, height, width = T.RandomResizedCrop.get_params(image, list(scale), list(ratio))
    flip = torch.rand(1) < 0.5
    return torch.tensor([top, left, height, width], dtype=torch.int64), flip[0]


class EncodedCrops(Dataset):
    """``(payload, box, flip, label)`` samples of a data set for the GPU path (module docstring).

    Args:
        base: an image folder (``torchvision`` ``ImageFolder``, e.g. :class:`SafeImageFolder`): files are
            read as bytes; tar shards or a Hugging Face data set (:class:`EncodedImages`): their stored
            bytes; or any data set whose items are ``(PIL image, label)`` (e.g. ``build_dataset(name,
            transform=to_rgb)``), decoded here.
        scale, ratio: RandomResizedCrop ranges (MAE: scale (0.2, 1.0)).
    """

    def __init__(self, base: Dataset, *, scale: tuple[float, float] = SCALE,
                 ratio: tuple[float, float] = RATIO) -> None:
        self.base = base
        self.scale, self.ratio = scale, ratio
        self.files: list[tuple[str, int]] | None = (
            list(base.samples) if isinstance(base, ImageFolder) else None)
        self.bad_files: list[str] = []

    def __len__(self) -> int:
        return len(self.files) if self.files is not None else len(self.base)  # type: ignore[arg-type]

    @property
    def skipped(self) -> int:
        """Unreadable files found so far (in this process)."""
        return len(self.bad_files)

    def __getitem__(self, index: int) -> EncodedSample:
        if isinstance(self.base, EncodedImages):
            return self._from_bytes(self.base, index)
        if self.files is None:
            image, label = self.base[index]
            if not isinstance(image, Image.Image):
                raise UserError("the GPU data path needs a data set of PIL images "
                                "(build_dataset(..., transform=to_rgb)) or an image folder")
            box, flip = draw_crop(image, self.scale, self.ratio)
            return EncodedSample(pil_to_tensor(to_rgb(image)), box, flip, int(label))
        for offset in range(len(self.files)):
            path, label = self.files[(index + offset) % len(self.files)]
            try:
                sample = self._read(path, label)
            except UNREADABLE:
                self._skip(path)
                continue
            return sample
        raise UserError(f"image folder {getattr(self.base, 'root', '')}: no readable image left")

    def _from_bytes(self, base: EncodedImages, index: int) -> EncodedSample:
        """Sample ``index`` of tar shards / a Hugging Face data set (its bytes as stored); unreadable
        samples are marked in ``base`` (counted by :func:`colormae.data.skipped_total`)."""
        n = len(base)
        for offset in range(n):
            k = (index + offset) % n
            if base._failed[k]:
                continue
            try:
                data, suffix, label = base.raw(k)
                if suffix.lower() in (".jpg", ".jpeg", ".png") or sniff_suffix(data) == ".png":
                    return self._encode(data, label)
                image = read_image_bytes(data, suffix)  # TIFF / .npy: decoded here, sent as RGB
                box, flip = draw_crop(image, self.scale, self.ratio)
                return EncodedSample(pil_to_tensor(to_rgb(image)), box, flip, int(label))
            except UNREADABLE:
                base.mark_unreadable(k)
        raise UserError(f"{base.name}: no readable image left")

    def _read(self, path: str, label: int) -> EncodedSample:
        with open(path, "rb") as fh:
            return self._encode(fh.read(), label)

    def _encode(self, data: bytes, label: int) -> EncodedSample:
        with Image.open(io.BytesIO(data)) as image:  # header only
            if image.size[0] <= 0 or image.size[1] <= 0:
                raise OSError("empty image")
            box, flip = draw_crop(image, self.scale, self.ratio)
            if image.format == "JPEG" and image.mode in DEVICE_MODES:
                payload = torch.frombuffer(bytearray(data), dtype=torch.uint8)
            else:
                payload = pil_to_tensor(to_rgb(image))
        return EncodedSample(payload, box, flip, label)

    def _skip(self, path: str) -> None:
        if not self.bad_files:
            warnings.warn(f"skipping unreadable image {path}; the count so far is kept in .skipped",
                          RuntimeWarning, stacklevel=3)
        self.bad_files.append(path)

