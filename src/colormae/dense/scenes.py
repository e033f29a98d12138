"""``scenes``: built-in dense data - mnist5k digits pasted onto crops of the bundled photos.

Every scene is a square crop of one of the photos that install with scikit-image, scikit-learn and
matplotlib (:mod:`colormae.data.photos`), resized to ``size`` px, with 1 to 3 MNIST digits
(:mod:`colormae.data.mnist`) pasted at random sizes, places and colours. A digit's stroke pixels
(intensity >= 128) are its mask; a later digit occludes an earlier one. 11 classes: ``background`` and
the ten digits (class ``d + 1`` is digit ``d``). Each scene also carries its instances (class, box,
visible mask), for detection.

**Multispectral scenes** (``scenes:bands=N``, ``scenes:<px>:bands=N``, ``N`` from 4 to
:data:`MAX_BANDS`): the same labels and instances, but the digits are visible **only in band 4**. Bands
1-3 hold the photo crop without the digits plus colour clutter (random soft blobs that follow no digit);
band 4 holds the digits' strokes, each at a random brightness, over a dim noisy floor; bands 5.. hold
the photo's grey level plus noise. So a model that reads only the first three bands cannot find the
digits. These scenes are ``(H, W, N)`` uint8 arrays; ``read`` gives them as float ``(N, H, W)`` in [0, 1].

Train and val never share a digit or a photo pixel: train digits come from mnist5k's train split and
train backgrounds from the left 70 % of every photo; val uses mnist5k's val digits and the right 30 %.
Scene ``i`` of a split is a pure function of ``(seed, split, i)`` (its own numpy generator), so any
process, worker or resumed run sees the same scenes. Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from colormae.errors import UserError

SPLITS = ("train", "val")
#: Class names: index 0 is the background, ``d + 1`` the digit ``d``.
CLASSES = ["background", *(f"digit {d}" for d in range(10))]
#: Scenes per split.
LENGTHS = {"train": 2000, "val": 200}
#: Default scene side in pixels (the CPU demo model's 32 px input).
SIZE = 32
#: Fraction of each photo's width (from the left) that train backgrounds come from; val uses the rest.
TRAIN_FRACTION = 0.7
#: A digit pixel belongs to the digit's mask at this intensity (of 255) or above.
STROKE = 96
#: Digits per scene: 1 .. MAX_DIGITS.
MAX_DIGITS = 3
#: Digit side as a fraction of the scene side.
DIGIT_SCALE = (0.5, 0.9)
#: Scenes of at most this side are kept in memory once made (2,200 scenes of 64 px: about 60 MB); making
#: one costs a crop-and-resize of a large photo, which was a fifth of a 32 px segmentation step.
CACHE_MAX_SIZE = 64
#: Most bands of the multispectral scenes.
MAX_BANDS = 16
#: Colour blobs painted on bands 1-3 of a multispectral scene.
CLUTTER = 3


@dataclass(frozen=True)
class ScenesSpec:
    """A parsed ``scenes[:<px>][:bands=N]`` data spec: scene side in px and band count (3: RGB)."""

    size: int = SIZE
    bands: int = 3


@dataclass
class Instance:
    """One pasted digit: ``label`` (class id 1..10), ``box`` ``(x0, y0, x1, y1)`` (pixels, exclusive end)
    of its visible mask, ``mask`` bool ``(H, W)`` of its visible stroke pixels."""

    label: int
    box: tuple[int, int, int, int]
    mask: np.ndarray


@dataclass
class Scene:
    """A built-in dense sample: ``image`` (RGB PIL, or a ``(H, W, N)`` uint8 array of a multispectral
    scene), semantic ``labels`` uint8 ``(H, W)`` and its instances."""

    image: Image.Image | np.ndarray
    labels: np.ndarray
    instances: list[Instance]


def parse_spec(data: str) -> ScenesSpec | None:
    """The :class:`ScenesSpec` of ``scenes``, ``scenes:<px>``, ``scenes:bands=N`` or
    ``scenes:<px>:bands=N``; ``None`` for any other data spec."""
    name, _, rest = data.partition(":")
    if name != "scenes":
        return None
    usage = (f"data {data!r}: expected scenes, scenes:<size in px, at least 16>, "
             f"scenes:bands=<4..{MAX_BANDS}> or scenes:<px>:bands=<N>")
    size, bands = SIZE, 3
    for part in rest.split(":") if rest else []:
        key, eq, value = part.partition("=")
        if not eq and key.isdigit() and int(key) >= 16:
            size = int(key)
        elif eq and key == "bands" and value.isdigit() and 4 <= int(value) <= MAX_BANDS:
            bands = int(value)
        else:
            raise UserError(usage)
    return ScenesSpec(size, bands)


def parse_scenes(data: str) -> int | None:
    """The scene size of a ``scenes`` data spec (:func:`parse_spec`), or ``None`` for any other spec."""
    spec = parse_spec(data)
    return None if spec is None else spec.size


@lru_cache(maxsize=2)
def _digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    from colormae.data.mnist import _load, split_indices

    images, labels = _load()
    idx = split_indices(labels, split)
    return images[idx], labels[idx]


def _background(rng: np.random.Generator, split: str, size: int) -> np.ndarray:
    """A ``(size, size, 3)`` float32 crop (0..255) from the split's region of a random photo."""
    from colormae.data.photos import load_photos

    _, photos = load_photos()
    photo = photos[int(rng.integers(len(photos)))]
    w, h = photo.size
    cut = int(w * TRAIN_FRACTION)
    x_lo, x_hi = (0, cut) if split == "train" else (cut, w)
    region = min(x_hi - x_lo, h)
    side = int(rng.integers(min(region, max(size, region // 4)), region + 1))
    left = x_lo + int(rng.integers(0, x_hi - x_lo - side + 1))
    top = int(rng.integers(0, h - side + 1))
    crop = photo.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
    return np.asarray(crop, dtype=np.float32)


def make_scene(split: str, index: int, *, seed: int = 0, size: int = SIZE, bands: int = 3) -> Scene:
    """Scene ``index`` of ``split`` (deterministic in ``(seed, split, index, size, bands)``; the labels
    and instances do not depend on ``bands``).

    Small scenes come from an in-process cache: their arrays are read-only, so copy before changing them.
    """
    if size <= CACHE_MAX_SIZE:
        return _cached_scene(split, index, seed, size, bands)
    return _make_scene(split, index, seed=seed, size=size, bands=bands)


@lru_cache(maxsize=8192)
def _cached_scene(split: str, index: int, seed: int, size: int, bands: int = 3) -> Scene:
    scene = _make_scene(split, index, seed=seed, size=size, bands=bands)
    scene.labels.setflags(write=False)
    if isinstance(scene.image, np.ndarray):
        scene.image.setflags(write=False)
    for inst in scene.instances:
        inst.mask.setflags(write=False)
    return scene


def _make_scene(split: str, index: int, *, seed: int, size: int, bands: int = 3) -> Scene:
    if split not in SPLITS:
        raise UserError(f"scenes has splits {', '.join(SPLITS)}; got {split!r}")
    rng = np.random.default_rng([seed, SPLITS.index(split), index, size])
    image = _background(rng, split, size)
    photo = image.copy()
    digits, digit_labels = _digits(split)
    labels = np.zeros((size, size), np.uint8)
    owner = np.full((size, size), -1, np.int64)  # which pasted digit each pixel shows
    alphas: list[tuple[int, int, np.ndarray]] = []  # (y, x, alpha) of each pasted digit, in order
    pasted: list[int] = []
    for k in range(int(rng.integers(1, MAX_DIGITS + 1))):
        row = int(rng.integers(len(digits)))
        side = int(rng.integers(int(DIGIT_SCALE[0] * size), int(DIGIT_SCALE[1] * size) + 1))
        alpha = np.asarray(Image.fromarray(digits[row]).resize((side, side), Image.BILINEAR),
                           dtype=np.float32) / 255.0
        y, x = (int(rng.integers(0, size - side + 1)) for _ in range(2))
        under = image[y:y + side, x:x + side]
        colour = rng.uniform(0, 255, 3).astype(np.float32)
        for _ in range(10):  # a colour that stands out from what it covers
            if np.abs(colour - under.reshape(-1, 3).mean(0)).max() > 96:
                break
            colour = rng.uniform(0, 255, 3).astype(np.float32)
        a = alpha[..., None]
        image[y:y + side, x:x + side] = a * colour + (1 - a) * under
        stroke = alpha >= STROKE / 255.0
        labels[y:y + side, x:x + side][stroke] = int(digit_labels[row]) + 1
        owner[y:y + side, x:x + side][stroke] = k
        pasted.append(int(digit_labels[row]) + 1)
        alphas.append((y, x, alpha))
    instances = []
    for k, label in enumerate(pasted):
        mask = owner == k
        if not mask.any():  # fully hidden by later digits
            continue
        ys, xs = np.nonzero(mask)
        instances.append(Instance(label, (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1),
                                  mask))
    if bands > 3:
        # one stream for every band count, bands 5.. drawn last: a scene's first four bands never depend on N
        rng_bands = np.random.default_rng([seed, SPLITS.index(split), index, size, 4])
        return Scene(_multispectral(photo, alphas, bands, rng_bands), labels, instances)
    return Scene(Image.fromarray(image.round().clip(0, 255).astype(np.uint8)), labels, instances)


def _multispectral(photo: np.ndarray, alphas: list[tuple[int, int, np.ndarray]], bands: int,
                   rng: np.random.Generator) -> np.ndarray:
    """``(H, W, bands)`` uint8: the photo (``(H, W, 3)`` float 0..255) with colour clutter in bands 1-3,
    the digits (``alphas``, pasted in order) in band 4, grey photo + noise in the rest (module docstring)."""
    size = photo.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    rgb = photo.copy()
    for _ in range(CLUTTER):  # soft colour blobs at random places: clutter that follows no digit
        cy, cx = rng.uniform(0, size, 2)
        radius = rng.uniform(0.1, 0.3) * size
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))[..., None]
        rgb = blob * rng.uniform(0, 255, 3).astype(np.float32) + (1 - blob) * rgb
    ink = np.zeros((size, size), np.float32)
    for y, x, alpha in alphas:  # a later digit covers an earlier one, as in the RGB scene
        side = alpha.shape[0]
        window = ink[y:y + side, x:x + side]
        ink[y:y + side, x:x + side] = alpha * rng.uniform(0.6, 1.0) + (1 - alpha) * window
    grey = photo.mean(axis=2)
    extra = [40 + 0.2 * grey + rng.normal(0, 8, (size, size)) + 170 * ink]
    extra += [grey + rng.normal(0, 16, (size, size)) for _ in range(bands - 4)]
    out = np.concatenate([rgb, np.stack(extra, axis=2)], axis=2)
    return out.round().clip(0, 255).astype(np.uint8)


class DigitScenes:
    """The ``scenes`` source: ``read(i) -> (image, labels int64 (H, W))``, ``scene(i)`` with instances.

    Args:
        split: ``"train"`` (2,000 scenes) or ``"val"`` (200).
        seed: which scenes (the default 0 is the published set).
        size: scene side in pixels.
        length: override the number of scenes.
        bands: 3 (RGB) or 4..16 (multispectral: the digits only in band 4, see the module docstring).
    """

    classes = CLASSES
    ignore_index = 255

    def __init__(self, split: str = "train", *, seed: int = 0, size: int = SIZE, length: int | None = None,
                 bands: int = 3) -> None:
        if split not in SPLITS:
            raise UserError(f"scenes has splits {', '.join(SPLITS)}; got {split!r}")
        self.split, self.seed, self.size, self.bands = split, seed, size, bands
        self.length = LENGTHS[split] if length is None else length
        self.name = f"scenes:{size}" + (f":bands={bands}" if bands != 3 else "")

    def __len__(self) -> int:
        return self.length

    @property
    def channels(self) -> int:
        """Bands of every scene."""
        return self.bands

    def scene(self, index: int) -> Scene:
        """The full scene (image, labels, instances)."""
        if not 0 <= index < self.length:
            raise IndexError(index)
        return make_scene(self.split, index, seed=self.seed, size=self.size, bands=self.bands)

    def image(self, index: int) -> Image.Image | torch.Tensor:
        """Scene ``index``'s image as :func:`colormae.data.readers.read_image` gives a file's: the RGB PIL
        image, or a multispectral scene as float ``(N, H, W)`` in [0, 1]."""
        from colormae.data.readers import scale

        image = self.scene(index).image
        return scale(np.asarray(image)) if isinstance(image, np.ndarray) else image

    def read(self, index: int) -> tuple[Image.Image | torch.Tensor, np.ndarray]:
        """``(image, labels int64 (H, W))`` of scene ``index`` (the image as :meth:`image` gives it)."""
        return self.image(index), self.scene(index).labels.astype(np.int64)

    def stem(self, index: int) -> str:
        """File stem for a saved prediction."""
        return f"{self.split}_{index:05d}"
