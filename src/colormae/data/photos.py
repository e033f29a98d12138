"""``photos``: random crops of the colour photos that install with scikit-image, scikit-learn and
matplotlib — real images without a download, for demos and smoke tests.

Which photos exist depends on the installed versions; whatever loads offline is used (typically 11:
astronaut, chelsea, coffee, rocket, motorcycle, hubble_deep_field, immunohistochemistry, retina, china,
flower, grace_hopper). The data set has a fixed virtual length; item ``i`` is a square crop of photo
``i % n_photos`` (label = photo index). Every photo is cut in two along its longer side: ``train`` crops
come from the first two thirds, ``val`` crops from the last third, so no validation pixel is ever seen
in training (:func:`split_box`). ``train`` crops are random (torch's global RNG, so the usual seeding and
DataLoader worker seeding make them reproducible); ``val`` crops are fixed per index.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from colormae.data.transforms import tensor_transform
from colormae.errors import UserError
from colormae.extras import install_hint

SPLITS = ("train", "val")
#: Virtual lengths: crops per epoch.
LENGTHS = {"train": 2048, "val": 256}
#: Side of the square crop taken from a photo before the transform (clipped to the split's short side).
CROP = 256
#: Fraction of each photo's longer side held out for ``val``.
VAL_FRACTION = 1 / 3


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        out = getattr(skimage.data, name)()
        return out[0] if isinstance(out, tuple) else out  # stereo_motorcycle -> (left, right, disparity)

    return load


def _sklearn(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(name)

    return load


def _matplotlib(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data(name) as fh:
            return np.asarray(Image.open(fh).convert("RGB"))

    return load


#: (name, loader) of every candidate photo, in label order.
SOURCES: tuple[tuple[str, Callable[[], np.ndarray]], ...] = (
    ("astronaut", _skimage("astronaut")),
    ("chelsea", _skimage("chelsea")),
    ("coffee", _skimage("coffee")),
    ("rocket", _skimage("rocket")),
    ("motorcycle", _skimage("stereo_motorcycle")),
    ("hubble_deep_field", _skimage("hubble_deep_field")),
    ("immunohistochemistry", _skimage("immunohistochemistry")),
    ("retina", _skimage("retina")),
    ("china", _sklearn("china.jpg")),
    ("flower", _sklearn("flower.jpg")),
    ("grace_hopper", _matplotlib("grace_hopper.jpg")),
)


@lru_cache(maxsize=1)
def load_photos() -> tuple[tuple[str, ...], tuple[Image.Image, ...]]:
    """Names and RGB PIL images of the photos available offline (cached per process)."""
    names, images = [], []
    for name, load in SOURCES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                array = load()
        except Exception:  # noqa: BLE001 — a package missing or a file not shipped: skip that photo
            continue
        image = Image.fromarray(np.ascontiguousarray(array[..., :3]).astype(np.uint8)).convert("RGB")
        names.append(name)
        images.append(image)
    if not images:
        raise UserError(f"photos needs scikit-image, scikit-learn or matplotlib: {install_hint('photos')}")
    return tuple(names), tuple(images)


def split_box(width: int, height: int, split: str) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of a photo's ``split`` region: the longer side is cut at 2/3, train
    on the first part, val on the rest (disjoint)."""
    if width >= height:
        cut = width - round(width * VAL_FRACTION)
        return (0, 0, cut, height) if split == "train" else (cut, 0, width, height)
    cut = height - round(height * VAL_FRACTION)
    return (0, 0, width, cut) if split == "train" else (0, cut, width, height)


class Photos(Dataset):
    """Square crops of the bundled photos; ``(transform(crop), photo_index)``.

    Args:
        split: ``"train"`` (random crops, 2,048 per epoch) or ``"val"`` (256 fixed crops), each from its
            own part of every photo (:func:`split_box`).
        transform: applied to the PIL crop; the default gives a ``(3, 256, 256)`` tensor in [0, 1].
        length: override the virtual length.
        crop: side of the square crop (clipped to each photo's short side).
    """

    def __init__(
        self, split: str = "train", transform: Callable | None = None, *, length: int | None = None,
        crop: int = CROP,
    ) -> None:
        if split not in SPLITS:
            raise UserError(f"photos has splits {', '.join(SPLITS)}; got {split!r}")
        self.classes, self.photos = load_photos()
        self.split = split
        self.length = LENGTHS[split] if length is None else length
        self.crop = crop
        self.transform = transform if transform is not None else tensor_transform()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        label = index % len(self.photos)
        photo = self.photos[label]
        x0, y0, x1, y1 = split_box(*photo.size, self.split)
        w, h = x1 - x0, y1 - y0
        side = min(self.crop, w, h)
        if self.split == "train":
            top, left = (int(torch.randint(0, n - side + 1, ()).item()) for n in (h, w))
        else:  # a fixed crop per index
            gen = torch.Generator().manual_seed(index)
            top, left = (int(torch.randint(0, n - side + 1, (), generator=gen).item()) for n in (h, w))
        box = (x0 + left, y0 + top, x0 + left + side, y0 + top + side)
        return self.transform(photo.crop(box)), label
