"""``build_dataset``: one entry point for the built-in data sets and the user's image folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import ConcatDataset, Dataset, Subset

from colormae.data.folder import SafeImageFolder
from colormae.data.hf import is_hf
from colormae.data.mnist import MNIST5k
from colormae.data.natural import Natural
from colormae.data.normalization import Normalization
from colormae.data.photos import Photos
from colormae.data.shards import is_shards
from colormae.data.subset import evenly_spaced
from colormae.data.transforms import eval_transform, tensor_transform
from colormae.errors import UserError

#: Built-in data sets (installed with the package's dependencies, no download).
BUILTIN: dict[str, Callable[..., Dataset]] = {"mnist5k": MNIST5k, "photos": Photos, "natural": Natural}


def build_dataset(
    name_or_path: str | Path, *, split: str = "train", transform: Callable | None = None,
    channels: int | None = None,
) -> Dataset:
    """A data set of ``(image (C, H, W), label)`` pairs.

    Args:
        name_or_path: ``"mnist5k"`` (5,000 shipped digits; per class the first 400 train, the last 100
            val), ``"photos"`` (crops of the photos shipped by scikit-image / scikit-learn / matplotlib),
            ``"natural"`` (5 classes of real photos from Debian's gcompris-qt-data, 32 px; train and val
            from disjoint photos, see :mod:`colormae.data.natural`), or a folder of images (torchvision
            ImageFolder: one sub-folder per class; PNG, JPEG, TIFF including multi-band and 16-bit,
            ``.npy``); a folder's ``<path>/<split>`` sub-folder is used when it exists, and then
            ``train/`` and ``val/`` must hold the same class folders; or tar shards (a folder written by
            ``colormae data shard``, or a ``.tar`` brace pattern: :mod:`colormae.data.shards`); or
            ``hf:PATH``, a Hugging Face data set on disk (:mod:`colormae.data.hf`).
        split: ``"train"`` or ``"val"``.
        transform: applied to each image (PIL image for 8-bit files, else a float tensor ``(C, H, W)``);
            by default a float tensor scaled to [0, 1] by bit depth.
        channels: channels the images must have (folders: one clear error naming the first file that
            cannot be read as that many; ``None``: the folder's own count). Built-in data sets are
            converted (mnist5k's grey digits are repeated to RGB for 3, the default).
    """
    name = str(name_or_path)
    if name in BUILTIN:
        return BUILTIN[name](split=split, transform=transform or tensor_transform(channels or 3))
    if is_hf(name):
        from colormae.data.hf import HFImages

        return HFImages(name, split=split, channels=channels, transform=transform)
    if is_shards(name):
        from colormae.data.shards import open_shards

        return open_shards(name, split=split, channels=channels, transform=transform)
    root = Path(name).expanduser()
    if not root.exists():
        raise UserError(
            f"data set {name!r} is neither a built-in one ({', '.join(BUILTIN)}) nor an existing folder"
        )
    if split and (root / split).is_dir():
        check_same_classes(root)
        root = root / split
    return SafeImageFolder(root, transform=transform, channels=channels)


def _class_dirs(folder: Path) -> list[str]:
    return sorted(e.name for e in folder.iterdir() if e.is_dir() and not e.name.startswith("."))


def check_same_classes(root: str | Path) -> None:
    """A folder with ``train/`` and ``val/`` must list the same class sub-folders in both (torchvision
    numbers classes by sorted name, so a class missing from one split shifts every later label).
    One :class:`UserError` line naming the first missing class."""
    root = Path(root)
    train, val = root / "train", root / "val"
    if not (train.is_dir() and val.is_dir()):
        return
    a, b = _class_dirs(train), _class_dirs(val)
    if a == b:
        return
    only_train, only_val = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_train:
        raise UserError(f"{val} has no folder for class {only_train[0]!r} of {train} "
                        f"({len(only_train)} class(es) missing); train/ and val/ must hold the same classes")
    raise UserError(f"{train} has no folder for class {only_val[0]!r} of {val} "
                    f"({len(only_val)} class(es) missing); train/ and val/ must hold the same classes")


def data_splits(name_or_path: str | Path) -> list[str] | None:
    """The splits (``train``, ``val``) of tar shards or a Hugging Face data set; ``None`` for built-in
    sets and folders (whose splits are sub-folders)."""
    name = str(name_or_path)
    if is_hf(name):
        from colormae.data.hf import split_names

        return split_names(name)
    if is_shards(name) and Path(name).expanduser().is_dir():
        from colormae.data.shards import read_index

        return list(read_index(name)["splits"])
    return None


def is_builtin(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a built-in data set."""
    return str(name_or_path) in BUILTIN


def data_key(name_or_path: str | Path) -> str:
    """What names a data set in a cache key, the same from any working directory: a built-in name as it
    is, ``hf:PATH[?options]`` with PATH made absolute (the spec itself is no path), any other path (a
    folder, shard files, their brace pattern) made absolute."""
    name = str(name_or_path)
    if is_builtin(name):
        return name
    if is_hf(name):
        path, mark, options = name[len("hf:"):].partition("?")
        return f"hf:{Path(path).expanduser().resolve()}{mark}{options}"
    return str(Path(name).expanduser().resolve())


def data_channels(name_or_path: str | Path) -> int | None:
    """Channels of a folder's images (what most files have; its ``train`` split when it has one);
    ``None`` for built-in data sets, which take any of 1 or 3."""
    if is_builtin(name_or_path):
        return None
    dataset = build_dataset(name_or_path, split="train")
    return dataset.native_channels  # type: ignore[attr-defined]


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


def sample_images(name_or_path: str | Path, n: int, img_size: int | tuple[int, int],
                  norm: Normalization | None = None) -> torch.Tensor:
    """``n`` fixed images for figures: the ``val`` split (when present) through :func:`eval_transform`,
    taken evenly spaced across the data set so several classes show.

    Returns:
        normalized with ``norm`` (default ImageNet RGB) ``(n, C, H, W)``; fewer rows if the data set is
        smaller.
    """
    channels = norm.channels if norm is not None else None
    dataset = build_dataset(name_or_path, split="val", transform=eval_transform(img_size, norm),
                            channels=channels)
    count = min(n, len(dataset))
    if count <= 0:
        raise UserError(f"cannot sample {n} images from {name_or_path}")
    return torch.stack([dataset[i][0] for i in evenly_spaced(len(dataset), count)])
