"""Image transforms: MAE pretraining augmentation and the evaluation resize + centre crop, for any channel
count, bit depth and (H, W) size.

Input: a PIL image (any mode) or a float tensor ``(C, H, W)`` scaled to [0, 1] by its bit depth (what
:func:`colormae.data.readers.read_image` gives). Output: a float tensor ``(channels, H, W)`` normalised
with a :class:`~colormae.data.normalization.Normalization` (default: ImageNet statistics on RGB, as MAE
and the ColorMAE supplementary's pretraining recipe). 8-bit images stay PIL images until ``ToTensor`` (as
before); other images are cropped and resized as tensors (bicubic, antialiased), which works for any
number of bands.
"""

from __future__ import annotations

import math

import torch
from PIL import Image
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torchvision import transforms as T
from torchvision.transforms import functional as TF

from colormae.data.normalization import Normalization, imagenet
from colormae.data.readers import adapt_channels, to_tensor

#: ImageNet normalization (the default of every transform here, for 3 channels).
MEAN: tuple[float, float, float] = IMAGENET_DEFAULT_MEAN
STD: tuple[float, float, float] = IMAGENET_DEFAULT_STD
#: Fraction of the resized image kept by the evaluation centre crop (224 / 256, as MAE / timm).
CROP_PCT = 0.875
#: RandomResizedCrop aspect-ratio range for square outputs (torchvision / MAE); scaled by W / H otherwise.
RATIO = (3 / 4, 4 / 3)
#: MAE's RandomResizedCrop scale range (pretraining recipe).
CROP_SCALE = (0.2, 1.0)
BICUBIC = T.InterpolationMode.BICUBIC


def to_rgb(image: Image.Image | torch.Tensor) -> Image.Image:
    """Any PIL mode (L, P, RGBA, ...) as an RGB PIL image, for PIL-only pipelines (timm's RandAugment);
    a float tensor (a 16-bit or ``.npy`` image) of 1, 3 or 4 channels is converted to 8-bit RGB. A
    module-level function so it pickles to workers."""
    if isinstance(image, torch.Tensor):
        try:
            rgb = adapt_channels(image, 3)
        except ValueError:
            from colormae.errors import UserError

            raise UserError(f"this step needs RGB images; an image has {image.shape[0]} channels") from None
        return TF.to_pil_image(rgb.clamp(0, 1))
    return image if image.mode == "RGB" else image.convert("RGB")


def crop_ratio(img_size: int | tuple[int, int] | list[int]) -> tuple[float, float]:
    """RandomResizedCrop's aspect-ratio range for an output of ``img_size``: (3/4, 4/3) times ``W / H``
    (so a non-square output is cut from regions of its own shape)."""
    h, w = image_hw(img_size)
    return (RATIO[0] * w / h, RATIO[1] * w / h)


def image_hw(img_size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``(H, W)`` of an int (square) or a pair."""
    if isinstance(img_size, int):
        return (img_size, img_size)
    h, w = img_size
    return (int(h), int(w))


class ToChannels:
    """Bring an image (PIL or tensor) to ``channels`` channels (see ``readers.CONVERTIBLE``)."""

    def __init__(self, channels: int) -> None:
        self.channels = channels

    def __call__(self, image: Image.Image | torch.Tensor) -> Image.Image | torch.Tensor:
        return adapt_channels(image, self.channels)

    def __repr__(self) -> str:
        return f"ToChannels({self.channels})"


class ToFloatTensor:
    """PIL image or tensor -> float32 ``(C, H, W)`` scaled by bit depth (``ToTensor`` for 8-bit PIL)."""

    def __call__(self, image: Image.Image | torch.Tensor) -> torch.Tensor:
        return to_tensor(image)

    def __repr__(self) -> str:
        return "ToFloatTensor()"


class ResizeToCover:
    """Resize (bicubic, antialiased) so that the image covers ``size / crop_pct`` in both directions,
    keeping its aspect ratio; for square outputs the short side becomes ``floor(size / crop_pct)``,
    exactly as the MAE / timm evaluation transform (timm's ``transforms_imagenet_eval``: ``scale_size =
    math.floor(img_size / crop_pct)``, then ``T.Resize(scale_size)``; MAE: ``int(input_size / crop_pct)``),
    so 32 px crops come from a 36 px short side, 224 px ones from 256."""

    def __init__(self, size: tuple[int, int], crop_pct: float = CROP_PCT) -> None:
        self.size, self.crop_pct = size, crop_pct

    def __call__(self, image: Image.Image | torch.Tensor) -> Image.Image | torch.Tensor:
        th, tw = self.size
        if th == tw:
            return TF.resize(image, math.floor(th / self.crop_pct), interpolation=BICUBIC, antialias=True)
        w, h = image.size if isinstance(image, Image.Image) else (image.shape[-1], image.shape[-2])
        s = max(th / h, tw / w) / self.crop_pct
        new = [max(th, math.ceil(h * s - 1e-6)), max(tw, math.ceil(w * s - 1e-6))]
        return TF.resize(image, new, interpolation=BICUBIC, antialias=True)

    def __repr__(self) -> str:
        return f"ResizeToCover(size={self.size}, crop_pct={self.crop_pct}, short_side=floor)"  # cache keys


def _norm(norm: Normalization | None, channels: int | None) -> Normalization:
    if norm is None:
        return imagenet(channels or 3)
    if channels is not None and channels != norm.channels:
        raise ValueError(f"normalisation of {norm.channels} channels for {channels}-channel images")
    return norm


def mae_transform(img_size: int | tuple[int, int], norm: Normalization | None = None, *,
                  channels: int | None = None) -> T.Compose:
    """MAE pretraining augmentation: RandomResizedCrop(scale=(0.2, 1.0), bicubic) to ``(H, W)`` with the
    aspect-ratio range (3/4, 4/3) scaled by ``W / H``, horizontal flip, float tensor, Normalize.
    Output ``(norm.channels, H, W)`` (default: ImageNet RGB)."""
    norm = _norm(norm, channels)
    h, w = image_hw(img_size)
    return T.Compose([
        ToChannels(norm.channels),
        T.RandomResizedCrop((h, w), scale=CROP_SCALE, ratio=crop_ratio((h, w)), interpolation=BICUBIC,
                            antialias=True),
        T.RandomHorizontalFlip(),
        ToFloatTensor(),
        T.Normalize(norm.mean, norm.std),
    ])


def eval_transform(img_size: int | tuple[int, int], norm: Normalization | None = None, *,
                   channels: int | None = None) -> T.Compose:
    """Deterministic evaluation transform: resize (bicubic) so the image covers ``(H, W) / 0.875`` (for
    a square size: short side ``size / 0.875``), centre crop ``(H, W)``, float tensor, Normalize.
    Output ``(norm.channels, H, W)`` (default: ImageNet RGB)."""
    norm = _norm(norm, channels)
    hw = image_hw(img_size)
    return T.Compose([
        ToChannels(norm.channels),
        ResizeToCover(hw),
        T.CenterCrop(hw),
        ToFloatTensor(),
        T.Normalize(norm.mean, norm.std),
    ])


def tensor_transform(channels: int = 3) -> T.Compose:
    """No augmentation, no normalisation: ``channels`` channels as a float tensor scaled by bit depth
    (8-bit: [0, 1]); the default when a data set gets no transform."""
    return T.Compose([ToChannels(channels), ToFloatTensor()])
