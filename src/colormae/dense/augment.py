"""Joint image/label transforms of mmseg's ADE20K pipeline, on torch tensors.

Training (:class:`TrainTransform`): random keep-ratio resize to ``scale`` times a ratio in ``ratio_range``
(mmseg ``RandomResize``), random crop whose most frequent class covers less than ``cat_max_ratio`` of it
(mmseg ``RandomCrop``, up to 10 tries), horizontal flip, photometric distortion (mmseg
``PhotoMetricDistortion``: brightness +-32, contrast and saturation x[0.5, 1.5], hue +-18 degrees of 180,
each with probability 0.5, contrast before or after the rest), normalisation (a
:class:`~colormae.data.normalization.Normalization`; default ImageNet RGB), then padding to the crop size
(image 0, labels ``ignore_index``). Evaluation (:class:`EvalTransform`): the keep-ratio resize to
``scale`` and the normalisation only; the labels stay at their original size (metrics are computed there).

Any channel count: images come as the readers give them (an 8-bit PIL image, or a float tensor
``(C, H, W)`` in [0, 1] for 16-bit, multi-band and ``.npy`` files), are brought to the normalisation's
channel count (:func:`colormae.data.readers.adapt_channels`) and handled in 8-bit units (0..255 floats; a
16-bit image's values / 257), so an RGB image goes through exactly the steps it always did. On images of
other than 3 channels the photometric distortion keeps brightness and contrast (the same shift and factor
on every band, clamped to 0..255) and skips saturation and hue, which only RGB has.

The pixel operations are torchvision's; the sampling policies (ratio range, the category-ratio crop, the
order of the colour jitters) are mmseg's and exist in no torch library, hence written here. Random
numbers come from torch's global RNG, which :class:`colormae.train.loader.SeededDataset` seeds per
sample (exact resume).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from colormae.data.normalization import Normalization, imagenet
from colormae.data.readers import adapt_channels


def rescale_size(hw: tuple[int, int], scale: tuple[int, int]) -> tuple[int, int]:
    """mmcv's keep-ratio rescale: the largest ``(h, w)`` with long edge <= ``max(scale)`` and short edge
    <= ``min(scale)``."""
    h, w = hw
    factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
    return max(1, int(h * factor + 0.5)), max(1, int(w * factor + 0.5))


def to_tensors(image: Image.Image | Tensor, labels: np.ndarray, channels: int = 3) -> tuple[Tensor, Tensor]:
    """An image as the readers give it -> float ``(channels, H, W)`` in 8-bit units (0..255; an 8-bit
    PIL image exactly its pixel values); labels -> int64 ``(H, W)``."""
    image = adapt_channels(image, channels)
    if isinstance(image, Image.Image):
        pixels = TF.pil_to_tensor(image).float()
    else:
        pixels = image.float() * 255.0
    return pixels, torch.as_tensor(labels, dtype=torch.int64)


def resize_pair(image: Tensor, labels: Tensor | None, size: tuple[int, int]) -> tuple[Tensor, Tensor | None]:
    """Bilinear image, nearest labels, to ``size = (h, w)``."""
    image = TF.resize(image, list(size), InterpolationMode.BILINEAR, antialias=True)
    if labels is not None:
        labels = TF.resize(labels[None], list(size), InterpolationMode.NEAREST)[0]
    return image, labels


def normalize(image: Tensor, norm: Normalization | None = None) -> Tensor:
    """0..255 float ``(C, H, W)`` -> normalised with ``norm`` (default ImageNet RGB) after scaling to
    [0, 1]."""
    norm = norm or imagenet(3)
    return TF.normalize(image / 255.0, norm.mean, norm.std)


def _uniform(lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand(()))


def _coin() -> bool:
    return bool(torch.randint(0, 2, ()))


def photometric(image: Tensor) -> Tensor:
    """mmseg's ``PhotoMetricDistortion`` on a 0..255 float ``(C, H, W)`` image; saturation and hue only
    for ``C = 3`` (module docstring)."""
    rgb = image.shape[0] == 3
    if _coin():
        image = (image + _uniform(-32, 32)).clamp(0, 255)
    contrast_first = _coin()

    def contrast(x: Tensor) -> Tensor:
        return (x * _uniform(0.5, 1.5)).clamp(0, 255) if _coin() else x

    if contrast_first:
        image = contrast(image)
    if rgb and _coin():
        image = TF.adjust_saturation(image / 255.0, _uniform(0.5, 1.5)) * 255.0
    if rgb and _coin():
        image = TF.adjust_hue(image / 255.0, int(torch.randint(-18, 19, ())) / 180.0) * 255.0
    if not contrast_first:
        image = contrast(image)
    return image


def category_crop(labels: Tensor, crop: tuple[int, int], cat_max_ratio: float, ignore_index: int,
                  tries: int = 10) -> tuple[int, int, int, int]:
    """mmseg's ``RandomCrop`` box ``(top, left, h, w)``: re-drawn up to ``tries`` times until the crop holds
    more than one class and none covers ``cat_max_ratio`` or more of its labelled pixels."""
    H, W = labels.shape
    ch, cw = min(crop[0], H), min(crop[1], W)

    def draw() -> tuple[int, int, int, int]:
        top = int(torch.randint(0, H - ch + 1, ()))
        left = int(torch.randint(0, W - cw + 1, ()))
        return top, left, ch, cw

    box = draw()
    if cat_max_ratio < 1.0:
        for _ in range(tries):
            t, l, h, w = box
            counts = torch.bincount(labels[t:t + h, l:l + w].reshape(-1).clamp(min=0))
            if 0 <= ignore_index < len(counts):
                counts[ignore_index] = 0
            counts = counts[counts > 0]
            if len(counts) > 1 and float(counts.max()) / float(counts.sum()) < cat_max_ratio:
                break
            box = draw()
    return box


class TrainTransform:
    """The joint training transform (see the module docstring): ``(image, labels) -> ((C, c, c), (c, c))``.

    Args:
        crop: crop side in pixels.
        scale: ``(long, short)`` edges of the resize before the ratio (mmseg ADE20K: (2048, 512));
            ``None`` = ``(4 * crop, crop)``.
        ratio_range: range of the random resize ratio.
        cat_max_ratio: the crop's most frequent class covers less than this (1: plain random crop).
        flip: probability of a horizontal flip.
        photometric: apply the photometric distortion.
        ignore_index: label of padding and ignored pixels.
        norm: the normalisation; its channel count is the images' ``C`` (default ImageNet RGB).
    """

    def __init__(self, crop: int, *, scale: tuple[int, int] | None = None,
                 ratio_range: tuple[float, float] = (0.5, 2.0), cat_max_ratio: float = 0.75,
                 flip: float = 0.5,
                 photometric: bool = True, ignore_index: int = 255,
                 norm: Normalization | None = None) -> None:
        self.crop = crop
        self.scale = scale or (4 * crop, crop)
        self.ratio_range, self.cat_max_ratio, self.flip = ratio_range, cat_max_ratio, flip
        self.photometric, self.ignore_index = photometric, ignore_index
        self.norm = norm or imagenet(3)

    def __call__(self, image: Image.Image | Tensor, labels: np.ndarray) -> tuple[Tensor, Tensor]:
        img, lab = to_tensors(image, labels, self.norm.channels)
        ratio = _uniform(*self.ratio_range)
        target = (int(self.scale[0] * ratio), int(self.scale[1] * ratio))
        img, lab = resize_pair(img, lab, rescale_size(tuple(lab.shape), target))
        t, l, h, w = category_crop(lab, (self.crop, self.crop), self.cat_max_ratio, self.ignore_index)
        img, lab = img[:, t:t + h, l:l + w], lab[t:t + h, l:l + w]
        if float(torch.rand(())) < self.flip:
            img, lab = img.flip(-1), lab.flip(-1)
        if self.photometric:
            img = photometric(img)
        img = normalize(img, self.norm)
        pad = (0, self.crop - w, 0, self.crop - h)
        return F.pad(img, pad, value=0.0), F.pad(lab, pad, value=self.ignore_index)


class EvalTransform:
    """``(image, labels) -> (normalised image resized to scale (C, h, w), labels at their size (H, W))``;
    ``norm``: the normalisation (its channel count is ``C``; default ImageNet RGB)."""

    def __init__(self, scale: tuple[int, int], norm: Normalization | None = None) -> None:
        self.scale = scale
        self.norm = norm or imagenet(3)

    def __call__(self, image: Image.Image | Tensor, labels: np.ndarray) -> tuple[Tensor, Tensor]:
        img, lab = to_tensors(image, labels, self.norm.channels)
        img, _ = resize_pair(img, None, rescale_size(tuple(lab.shape), self.scale))
        return normalize(img, self.norm), lab
