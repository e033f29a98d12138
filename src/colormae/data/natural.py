"""``natural``: a small 5-class set of real photos, built offline from Debian's ``gcompris-qt-data``.

What it is, honestly: 226 distinct colour photos (public-domain / CC photos of Wikimedia Commons and
publicdomainpictures.net that the educational suite GCompris ships inside its ``.rcc`` bundles,
``/usr/share/gcompris-qt/rcc``), grouped into five classes by what they show:

=========  =============================================================  ======
class      GCompris activities the photos come from                        photos
=========  =============================================================  ======
animal     ``erase`` (33), ``explore_farm_animals`` (9),                   57
           ``explore_world_animals`` (15): mammals, birds, insects
building   ``explore_monuments`` (49), ``categorization`` monuments (27)   73
energy     ``categorization`` renewable energy: windmills, wind turbines,  29
           solar panels, dams
fish       ``categorization`` fishes (mostly underwater)                   28
tool       ``categorization`` tools (hand tools, most on a plain ground)   39
=========  =============================================================  ======

(counts after dropping 3 monuments shipped twice). ``train``: 177 photos, 1,368 images (animal 400,
building 432, energy 144, fish 160, tool 232); ``val``: 49 photos, 440 images (56 / 152 / 88 / 64 / 80;
the majority class, building, is 34.5 %). Each photo is assigned to
``train`` or ``val`` by a hash of its resource path (``crc32 % 4 == 0`` -> ``val``, about a quarter),
so **train and val come from disjoint source photos**, and adding a photo to the package never moves
another one. Every photo gives :data:`VIEWS` square views at ``size`` px (default 32, the CPU demo
model's input): view 0 is the centre square of the whole photo, the others random square crops of 50 to
100 % of its short side (half of them mirrored), drawn from a generator seeded by the photo's path, so
the set is the same on every machine. Classes are imbalanced (building is the majority).

The decoded set is cached as one ``.npz`` (``$COLORMAE_CACHE`` or ``~/.cache/colormae``); building it
takes a few seconds. Without the Debian package, :class:`Natural` raises a :class:`UserError` that says
how to install it. ``python -m colormae.data.natural OUT`` writes the set as an image folder
(``OUT/{train,val}/<class>/*.png``) for tools that want files.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import zlib
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from colormae.data.transforms import tensor_transform
from colormae.errors import UserError
from colormae.files import atomic_write

SPLITS = ("train", "val")
#: Where Debian's gcompris-qt-data installs its bundles (``$COLORMAE_GCOMPRIS_RCC`` overrides it).
RCC_DIR = Path("/usr/share/gcompris-qt/rcc")
#: Views per source photo, in both splits.
VIEWS = 8
#: Smallest crop side of views 1.. as a fraction of the photo's short side.
MIN_CROP = 0.5
#: Two photos whose 16x16 grayscale thumbnails differ by less than this (mean |diff|, 0..255) are one.
DUPLICATE_THRESHOLD = 6.0
#: Bumped whenever the recipe below changes, so stale caches are not reused.
FORMAT = 1
#: class -> ((bundle file, path fragment), ...): ``.webp`` photos whose resource path holds the fragment.
SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "animal": (("erase.rcc", "/erase/resource/"),
               ("explore_farm_animals.rcc", "/explore_farm_animals/resource/animals/"),
               ("explore_world_animals.rcc", "/explore_world_animals/resource/animals/")),
    "building": (("explore_monuments.rcc", "/explore_monuments/resource/"),
                 ("categorization.rcc", "/categorization/resource/images/monuments/")),
    "energy": (("categorization.rcc", "/categorization/resource/images/renewable/"),),
    "fish": (("categorization.rcc", "/categorization/resource/images/fishes/"),),
    "tool": (("categorization.rcc", "/categorization/resource/images/tools/"),),
}
CLASSES = sorted(SOURCES)
INSTALL_HINT = ("natural: builds from the photos of Debian's gcompris-qt-data package, not found in {dir}; "
                "install it with `apt-get install gcompris-qt-data` (or set COLORMAE_GCOMPRIS_RCC)")


def rcc_dir() -> Path:
    """The folder of GCompris ``.rcc`` bundles (``$COLORMAE_GCOMPRIS_RCC`` or :data:`RCC_DIR`)."""
    return Path(os.environ.get("COLORMAE_GCOMPRIS_RCC", RCC_DIR))


def cache_dir() -> Path:
    """``$COLORMAE_CACHE`` or ``~/.cache/colormae``."""
    return Path(os.environ.get("COLORMAE_CACHE", Path.home() / ".cache" / "colormae"))


def split_of(key: str) -> str:
    """``"val"`` for about a quarter of the photos (``crc32(key) % 4 == 0``), else ``"train"``."""
    return "val" if zlib.crc32(key.encode()) % 4 == 0 else "train"


def list_photos(root: Path) -> list[tuple[str, str, bytes]]:
    """``(class, resource key, encoded photo)`` of every source photo, sorted by class then key."""
    from colormae.data.rcc import read_rcc

    bundles: dict[str, dict[str, bytes]] = {}
    photos = []
    for name in CLASSES:
        for bundle, fragment in SOURCES[name]:
            path = root / bundle
            if not path.is_file():
                raise UserError(INSTALL_HINT.format(dir=root))
            if bundle not in bundles:
                bundles[bundle] = read_rcc(path)
            photos += [(name, f"{bundle}:{key}", blob) for key, blob in bundles[bundle].items()
                       if fragment in key and key.endswith(".webp")]
    return sorted(photos, key=lambda p: (p[0], p[1]))


def photo_views(photo: Image.Image, key: str, size: int, views: int = VIEWS) -> np.ndarray:
    """``views`` square views of ``photo`` at ``size`` px: ``uint8 (views, size, size, 3)``.

    View 0 is the centre square; the others are crops of :data:`MIN_CROP`..1 of the short side at random
    places, odd views mirrored, drawn from a generator seeded by ``key`` (same on every machine).
    """
    w, h = photo.size
    short = min(w, h)
    gen = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    out = np.empty((views, size, size, 3), dtype=np.uint8)
    for v in range(views):
        if v == 0:
            side, left, top = short, (w - short) // 2, (h - short) // 2
        else:
            frac = MIN_CROP + (1 - MIN_CROP) * float(torch.rand((), generator=gen))
            side = max(int(round(short * frac)), 1)
            left = int(torch.randint(0, w - side + 1, (), generator=gen))
            top = int(torch.randint(0, h - side + 1, (), generator=gen))
        view = photo.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC,
                                                                        reducing_gap=3.0)
        if v % 2:
            view = view.transpose(Image.FLIP_LEFT_RIGHT)
        out[v] = np.asarray(view)
    return out


def _thumb(photo: Image.Image) -> np.ndarray:
    return np.asarray(photo.convert("L").resize((16, 16), Image.BILINEAR), dtype=np.float32)


def build_arrays(root: Path, size: int = 32, views: int = VIEWS) -> dict[str, np.ndarray]:
    """Decode, de-duplicate, split and crop every photo.

    Returns ``images uint8 (N, size, size, 3)``, ``labels int64 (N,)``, ``is_val bool (N,)`` and
    ``photo int64 (N,)`` (index of the source photo in ``keys``), plus ``keys`` (the photos' resource paths).
    """
    images, labels, is_val, photo_ids, keys, thumbs = [], [], [], [], [], []
    for name, key, blob in list_photos(root):
        photo = Image.open(io.BytesIO(blob)).convert("RGB")
        thumb = _thumb(photo)
        if any(float(np.abs(thumb - t).mean()) < DUPLICATE_THRESHOLD for t in thumbs):
            continue  # the same photo shipped twice (possibly re-encoded or resized)
        thumbs.append(thumb)
        images.append(photo_views(photo, key, size, views))
        labels += [CLASSES.index(name)] * views
        is_val += [split_of(key) == "val"] * views
        photo_ids += [len(keys)] * views
        keys.append(key)
    if not images:
        raise UserError(INSTALL_HINT.format(dir=root))
    return {"images": np.concatenate(images), "labels": np.asarray(labels, dtype=np.int64),
            "is_val": np.asarray(is_val, dtype=bool), "photo": np.asarray(photo_ids, dtype=np.int64),
            "keys": np.asarray(keys)}


def _fingerprint(root: Path, size: int, views: int) -> str:
    parts = [f"{FORMAT}:{size}:{views}"]
    for bundle in sorted({b for sources in SOURCES.values() for b, _ in sources}):
        path = root / bundle
        stat = path.stat() if path.is_file() else None
        parts.append(f"{bundle}:{stat.st_size if stat else -1}:{int(stat.st_mtime) if stat else -1}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]


@lru_cache(maxsize=4)
def load_arrays(size: int = 32, views: int = VIEWS) -> dict[str, np.ndarray]:
    """:func:`build_arrays`, cached on disk (one ``.npz`` per size and package version) and per process."""
    root = rcc_dir()
    if not root.is_dir():
        raise UserError(INSTALL_HINT.format(dir=root))
    path = cache_dir() / f"natural-{size}px-{_fingerprint(root, size, views)}.npz"
    if path.is_file():
        try:
            with np.load(path) as f:
                return {k: f[k] for k in f.files}
        except (OSError, ValueError, KeyError):
            pass  # a broken cache file: rebuild it
    arrays = build_arrays(root, size, views)
    try:
        atomic_write(path, lambda fh: np.savez(fh, **arrays))
    except OSError:
        pass  # a read-only home: the set is simply rebuilt next time
    return arrays


class Natural(Dataset):
    """The ``natural`` set: ``(transform(PIL RGB image), class index)``; see the module docstring.

    Args:
        split: ``"train"`` or ``"val"`` (disjoint source photos).
        transform: applied to the PIL image; the default gives a ``(3, size, size)`` tensor in [0, 1].
        size: side of the stored views in pixels (32 by default).
    """

    classes = CLASSES

    def __init__(self, split: str = "train", transform: Callable | None = None, *, size: int = 32) -> None:
        if split not in SPLITS:
            raise UserError(f"natural has splits {', '.join(SPLITS)}; got {split!r}")
        arrays = load_arrays(size)
        rows = arrays["is_val"] == (split == "val")
        self.images, self.targets = arrays["images"][rows], arrays["labels"][rows]
        self.photo = arrays["photo"][rows]
        self.split = split
        self.transform = transform if transform is not None else tensor_transform()

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.images[index])), int(self.targets[index])


def export_image_folder(out_dir: str | Path, *, size: int = 32) -> dict[str, int]:
    """Write the set as ``out_dir/{train,val}/<class>/<photo>_<view>.png``; returns images per split."""
    arrays = load_arrays(size)
    out = Path(out_dir)
    counts = {"train": 0, "val": 0}
    seen: dict[int, int] = {}
    for image, label, val, photo in zip(arrays["images"], arrays["labels"], arrays["is_val"], arrays["photo"],
                                        strict=True):
        split = "val" if val else "train"
        stem = Path(str(arrays["keys"][photo]).split(":", 1)[1]).stem
        view = seen.get(int(photo), 0)
        seen[int(photo)] = view + 1
        folder = out / split / CLASSES[int(label)]
        picture = Image.fromarray(image)
        atomic_write(folder / f"{int(photo):03d}_{stem}_{view}.png",
                     lambda fh, im=picture: im.save(fh, format="PNG"), sync=False)
        counts[split] += 1
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m colormae.data.natural OUT [--size 32]``: write the set as an image folder."""
    parser = argparse.ArgumentParser(prog="python -m colormae.data.natural", description=main.__doc__)
    parser.add_argument("out", help="folder to write train/ and val/ into")
    parser.add_argument("--size", type=int, default=32, help="side of the views in pixels (default 32)")
    args = parser.parse_args(argv)
    try:
        counts = export_image_folder(args.out, size=args.size)
    except UserError as err:
        print(f"error: {err}")
        return 2
    print(f"wrote {counts['train']} train and {counts['val']} val images to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
