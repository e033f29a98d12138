"""Segmentation data: the ADE20K release layout, a generic folder layout and the built-in scenes.

A *source* is one split of a data set: ``len(source)``, ``source.read(i) -> (image, labels int64 (H, W))``
with the ignore index already in place, ``source.image(i)`` (the image alone), ``source.stem(i)`` (the
annotation's file stem), ``source.channels`` (the images' channel count), ``source.classes`` and
``source.ignore_index``. Images are read by the pretraining readers (:mod:`colormae.data.readers`): an
8-bit photo (JPEG, 8-bit PNG) as a PIL image, anything else (16-bit PNG, multi-band or 16-bit TIFF,
``.npy``) as a float tensor ``(C, H, W)`` scaled to [0, 1] by its bit depth; the transforms
(:mod:`colormae.dense.augment`) bring them to the model's channels. :class:`SegDataset` turns a source
and a joint transform into a torch dataset.

Layouts (``DATA`` is the folder given as ``--data``):

- ADE20K release (``ADEChallengeData2016``): ``DATA/images/{training,validation}/*.jpg`` and
  ``DATA/annotations/{training,validation}/*.png``; 150 classes, label 0 ("other") becomes the ignore
  index and every other label drops by one (mmseg's ``reduce_zero_label``).
- generic: ``DATA/{train,val}/images/*`` with ``DATA/{train,val}/masks/*.png`` (or
  ``DATA/images/{train,val}`` with ``DATA/masks/{train,val}``) and ``DATA/classes.txt``, one class name a
  line; mask pixels are class ids, ``ignore_index`` (default 255) marks pixels to ignore. Images may have
  any channel count and bit depth the readers take (one count and depth per folder); masks are
  single-channel PNGs.
- ``scenes`` / ``scenes:<px>``: the built-in digit scenes (:mod:`colormae.dense.scenes`);
  ``scenes:bands=4`` / ``scenes:<px>:bands=N``: their multispectral version (the digits only in band 4).

Every problem is found before training starts and reported in one line naming the file: an image
without its annotation (or the reverse), a mask whose size differs from its image, a label id that is
neither a class nor the ignore index, an empty split folder, a mask that is not a single-channel PNG,
an image that is not readable or whose channel count or bit depth differs from the others'.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from colormae.data.readers import EXTENSIONS, ImageInfo, UnreadableImage, probe, read_image
from colormae.dense.scenes import DigitScenes, parse_spec
from colormae.errors import UserError

#: Image file endings: every format pretraining reads (torchvision's list with .tif / .tiff, and .npy).
IMAGE_SUFFIXES = EXTENSIONS
#: ADE20K split folder names.
ADE_SPLITS = {"train": "training", "val": "validation"}
#: The 150 ADE20K (SceneParsing) classes in label order (mmseg's ``ADE20KDataset``), after
#: ``reduce_zero_label``.
ADE20K_CLASSES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass", "cabinet",
    "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair", "car", "water",
    "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence",
    "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column",
    "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator",
    "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway",
    "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench",
    "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair", "boat", "bar",
    "arcade machine", "hovel", "bus", "towel", "light", "truck", "tower", "chandelier", "awning",
    "streetlight", "booth", "television receiver", "airplane", "dirt track", "apparel", "pole", "land",
    "bannister", "escalator", "ottoman", "bottle", "buffet", "poster", "stage", "van", "ship", "fountain",
    "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool", "barrel", "basket",
    "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank", "trade name",
    "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture", "hood",
    "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen", "plate", "monitor",
    "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)


class Source(Protocol):
    """One split of a segmentation data set (see the module docstring)."""

    classes: list[str]
    ignore_index: int
    name: str
    channels: int

    def __len__(self) -> int: ...
    def image(self, index: int) -> Image.Image | torch.Tensor: ...
    def read(self, index: int) -> tuple[Image.Image | torch.Tensor, np.ndarray]: ...
    def stem(self, index: int) -> str: ...


def reduce_zero_label(labels: np.ndarray, ignore_index: int = 255) -> np.ndarray:
    """mmseg's ``reduce_zero_label``: 0 becomes ``ignore_index``, every other id drops by one."""
    out = labels.astype(np.int64) - 1
    out[labels == 0] = ignore_index
    return out


def read_mask(path: Path) -> np.ndarray:
    """A label PNG as ``int64 (H, W)`` (modes L, P, I, I;16); anything else is one clear error."""
    with Image.open(path) as im:
        if im.mode not in ("L", "P", "I", "I;16", "1"):
            raise UserError(f"{path}: a mask must be a single-channel label PNG (mode L or P), "
                            f"got mode {im.mode}")
        return np.asarray(im, dtype=np.int64)


def _files(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder")
    files = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in suffixes and p.is_file()}
    if not files:
        kinds = "/".join(s.lstrip(".") for s in suffixes[:3])
        raise UserError(f"{folder}: empty split folder (no {kinds} files)")
    return files


class FolderSource:
    """Image/mask pairs matched by file stem; see the module docstring for the layouts."""

    def __init__(self, image_dir: Path, mask_dir: Path, classes: list[str], *, ignore_index: int = 255,
                 zero_label_reduced: bool = False, name: str = "") -> None:
        images = _files(image_dir, IMAGE_SUFFIXES)
        masks = _files(mask_dir, (".png",))
        for stem in images:
            if stem not in masks:
                raise UserError(f"{images[stem]}: no annotation {mask_dir / (stem + '.png')}")
        for stem in masks:
            if stem not in images:
                raise UserError(f"{masks[stem]}: an annotation without its image in {image_dir}")
        self.stems = sorted(images)
        self.images = [images[s] for s in self.stems]
        self.masks = [masks[s] for s in self.stems]
        self.classes = list(classes)
        self.ignore_index = ignore_index
        self.zero_label_reduced = zero_label_reduced
        self.name = name or str(image_dir)
        self._probed: list[ImageInfo] | None = None
        self._formats: tuple[int, str | None] | None = None

    def __len__(self) -> int:
        return len(self.stems)

    def stem(self, index: int) -> str:
        return self.stems[index]

    def labels(self, index: int) -> np.ndarray:
        """The labels of pair ``index`` (reduced when the layout says so), checked against the classes."""
        labels = read_mask(self.masks[index])
        if self.zero_label_reduced:
            labels = reduce_zero_label(labels, self.ignore_index)
        bad = (labels >= len(self.classes)) & (labels != self.ignore_index)
        if bad.any():
            raise UserError(f"{self.masks[index]}: label id {int(labels[bad].max())} is not a class "
                            f"(there are {len(self.classes)}) nor the ignore index {self.ignore_index}")
        return labels

    @property
    def channels(self) -> int:
        """The images' channel count (what most files have), from their headers."""
        return self.formats()[0]

    def formats(self) -> tuple[int, str | None]:
        """``(channels, dtype)`` of the images from their headers (read once); one :class:`UserError`
        line naming an unreadable file or one whose channels or bit depth differ from the others'."""
        if self._formats is None:
            from colormae.data.folder import check_formats

            self._formats = check_formats([(str(p), info) for p, info in zip(self.images, self._infos(),
                                                                                 strict=True)],
                                          None, self.images[0].parent if self.images else self.name)
        return self._formats

    def _infos(self, threads: int = 4) -> list[ImageInfo]:
        """Every image's header (read once, ``threads`` at a time)."""
        if self._probed is None:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                try:
                    self._probed = list(pool.map(probe, self.images))
                except UnreadableImage as err:
                    raise unreadable(err) from None
        return self._probed

    def image(self, index: int) -> Image.Image | torch.Tensor:
        """Image ``index`` as :func:`colormae.data.readers.read_image` reads it (8-bit photo: PIL; else a
        float tensor ``(C, H, W)`` in [0, 1])."""
        try:
            return read_image(self.images[index])
        except UnreadableImage as err:
            raise unreadable(err) from None

    def read(self, index: int) -> tuple[Image.Image | torch.Tensor, np.ndarray]:
        image = self.image(index)
        labels = self.labels(index)
        if labels.shape != image_hw(image):
            raise _size_error(self.masks[index], labels.shape, image_hw(image))
        return image, labels

    def check(self, *, labels: bool = True, threads: int = 4) -> None:
        """Check every pair before training: every image's header (readable, one channel count and bit
        depth), sizes from the file headers, and (``labels``) every mask's label ids. Raises the first
        problem as one line."""
        self.formats()
        infos = self._infos()

        def one(i: int) -> None:
            h, w = infos[i].hw or (0, 0)
            with Image.open(self.masks[i]) as mk:
                if (w, h) != mk.size:
                    raise UserError(f"{self.masks[i]}: mask is {mk.size[0]}x{mk.size[1]} but its image "
                                    f"{self.images[i].name} is {w}x{h}")
            if labels:
                self.labels(i)

        with ThreadPoolExecutor(max_workers=threads) as pool:
            for _ in pool.map(one, range(len(self))):
                pass


def unreadable(err: Exception) -> UserError:
    """The one line for an image file the readers cannot decode (its message names the file)."""
    return UserError(f"{err} (not a readable image)")


def image_hw(image: Image.Image | torch.Tensor) -> tuple[int, int]:
    """``(H, W)`` of a PIL image or a ``(C, H, W)`` tensor."""
    if isinstance(image, Image.Image):
        return image.height, image.width
    return int(image.shape[-2]), int(image.shape[-1])


def _size_error(mask: Path, shape: tuple[int, ...], hw: tuple[int, int]) -> UserError:
    return UserError(f"{mask}: mask is {shape[1]}x{shape[0]} but its image is {hw[1]}x{hw[0]}")


def is_ade20k(root: Path) -> bool:
    """Whether ``root`` has the ADE20K release layout."""
    return (root / "images" / "training").is_dir() or (root / "annotations" / "training").is_dir()


def read_classes(path: Path) -> list[str]:
    """Class names, one a line (blank lines skipped)."""
    if not path.is_file():
        raise UserError(f"{path.parent}: no classes.txt (one class name a line) next to the splits")
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not names:
        raise UserError(f"{path}: no class names")
    return names


def open_source(data: str, split: str, *, ignore_index: int = 255, reduce_zero_label: bool | None = None,
                seed: int = 0) -> Any:
    """The ``split`` (``"train"`` or ``"val"``) of ``data`` as a source (see the module docstring).

    ``reduce_zero_label``: ``None`` = as the layout says (ADE20K: on; generic: off).
    """
    if split not in ("train", "val"):
        raise UserError(f"split must be train or val, got {split!r}")
    spec = parse_spec(data)
    if spec is not None:
        return DigitScenes(split, seed=seed, size=spec.size, bands=spec.bands)
    root = Path(data).expanduser()
    if not root.is_dir():
        raise UserError(f"{data}: not a segmentation data folder nor a built-in set (scenes, scenes:<px>, "
                        "scenes:bands=4)")
    if is_ade20k(root):
        reduce = True if reduce_zero_label is None else reduce_zero_label
        classes = list(ADE20K_CLASSES) if reduce else ["other", *ADE20K_CLASSES]
        return FolderSource(root / "images" / ADE_SPLITS[split], root / "annotations" / ADE_SPLITS[split],
                            classes, ignore_index=ignore_index, zero_label_reduced=reduce,
                            name=f"{root}:{split}")
    classes = read_classes(root / "classes.txt")
    if (root / split / "images").is_dir() or (root / split).is_dir():
        image_dir, mask_dir = root / split / "images", root / split / "masks"
    else:
        image_dir, mask_dir = root / "images" / split, root / "masks" / split
    return FolderSource(image_dir, mask_dir, classes, ignore_index=ignore_index,
                        zero_label_reduced=bool(reduce_zero_label), name=f"{root}:{split}")


class SegDataset(Dataset):
    """A source read through a joint ``transform(image, labels) -> (image tensor, labels tensor)``."""

    def __init__(self, source: Any, transform: Callable[[Any, np.ndarray], tuple[torch.Tensor, torch.Tensor]]
                 ) -> None:
        self.source = source
        self.transform = transform

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(*self.source.read(index))
