"""Image transforms: MAE pretraining augmentation and the evaluation resize + centre crop.

Every transform turns a PIL image (any mode, grayscale included) into a normalized RGB tensor
``(3, H, W)`` with ImageNet mean / std (MAE; ColorMAE supplementary, pretraining recipe).
"""

from __future__ import annotations

from PIL import Image
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torchvision import transforms as T

#: ImageNet normalization used by every transform here.
MEAN: tuple[float, float, float] = IMAGENET_DEFAULT_MEAN
STD: tuple[float, float, float] = IMAGENET_DEFAULT_STD
#: Fraction of the resized image kept by the evaluation centre crop (224 / 256, as MAE / timm).
CROP_PCT = 0.875


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode (L, P, RGBA, ...) to RGB; a module-level function so it pickles to workers."""
    return image if image.mode == "RGB" else image.convert("RGB")


def _size(img_size: int | tuple[int, int]) -> tuple[int, int]:
    return (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)


def mae_transform(img_size: int | tuple[int, int]) -> T.Compose:
    """MAE pretraining augmentation: RandomResizedCrop(scale=(0.2, 1.0), bicubic), horizontal flip,
    ToTensor, ImageNet Normalize. Output ``(3, H, W)``."""
    return T.Compose([
        T.Lambda(to_rgb),
        T.RandomResizedCrop(_size(img_size), scale=(0.2, 1.0), interpolation=T.InterpolationMode.BICUBIC),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        T.Normalize(MEAN, STD),
    ])


def eval_transform(img_size: int | tuple[int, int]) -> T.Compose:
    """Deterministic evaluation transform: resize the short side to ``img_size / 0.875`` (bicubic), centre
    crop ``img_size``, ToTensor, ImageNet Normalize. Output ``(3, H, W)``."""
    h, w = _size(img_size)
    return T.Compose([
        T.Lambda(to_rgb),
        T.Resize(int(round(min(h, w) / CROP_PCT)), interpolation=T.InterpolationMode.BICUBIC),
        T.CenterCrop((h, w)),
        T.ToTensor(),
        T.Normalize(MEAN, STD),
    ])


def tensor_transform() -> T.Compose:
    """No augmentation: RGB, ToTensor (values in [0, 1]); the default when a dataset gets no transform."""
    return T.Compose([T.Lambda(to_rgb), T.ToTensor()])
