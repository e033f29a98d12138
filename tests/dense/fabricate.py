"""Small fabricated segmentation folders in the exact ADE20K release and generic layouts (for tests)."""

from pathlib import Path

import numpy as np
from PIL import Image

SIZES = [(40, 30), (52, 36), (33, 47)]  # (width, height): images of different sizes


def _write_pair(img_dir: Path, mask_dir: Path, stem: str, size: tuple[int, int], labels: np.ndarray,
                suffix: str = ".jpg") -> None:
    img_dir.mkdir(parents=True, exist_ok=True)
    mask_dir.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(rgb).save(img_dir / f"{stem}{suffix}")
    Image.fromarray(labels.astype(np.uint8), mode="L").save(mask_dir / f"{stem}.png")


def _labels(size: tuple[int, int], seed: int, high: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, (size[1], size[0]))


def make_ade(root: Path) -> dict[str, list[np.ndarray]]:
    raw = {}
    for split, folder in (("train", "training"), ("val", "validation")):
        raw[split] = []
        for i, size in enumerate(SIZES):
            labels = _labels(size, i, 151)  # ADE20K annotations: 0 = other, 1..150 = classes
            labels[0, 0], labels[0, 1] = 0, 150
            _write_pair(root / "images" / folder, root / "annotations" / folder, f"ADE_{folder}_{i:08d}",
                        size,
                        labels)
            raw[split].append(labels)
    return raw


def make_generic(root: Path, classes=("sky", "road", "car"), nested: bool = True) -> dict[str,
                                                                                          list[np.ndarray]]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("\n".join(classes) + "\n")
    raw = {}
    for split in ("train", "val"):
        raw[split] = []
        for i, size in enumerate(SIZES):
            labels = _labels(size, 10 + i, len(classes))
            labels[:2, :2] = 255
            img_dir, mask_dir = ((root / split / "images", root / split / "masks") if nested
                                 else (root / "images" / split, root / "masks" / split))
            _write_pair(img_dir, mask_dir, f"{split}{i}", size, labels, suffix=".png")
            raw[split].append(labels)
    return raw


def four_band_image(rng: np.random.Generator, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """``(image (4, size, size) uint16, mask (size, size) uint8)``: bands 1-3 noise that follows no label,
    band 4 a dim noisy floor with 1-2 bright rectangles, which are class 1 of the mask (0 elsewhere). The
    rectangles wrap around the borders, so every pixel is a target equally often: no place tells."""
    x = rng.uniform(0.2, 0.8, (4, size, size)) + rng.normal(0, 0.1, (4, size, size))
    x[3] = rng.uniform(0.1, 0.3) + rng.normal(0, 0.05, (size, size))
    mask = np.zeros((size, size), np.uint8)
    for _ in range(int(rng.integers(1, 3))):
        h, w = (int(v) for v in rng.integers(size // 4, size // 2 + 1, 2))
        top, left = (int(v) for v in rng.integers(0, size, 2))
        mask[np.ix_((top + np.arange(h)) % size, (left + np.arange(w)) % size)] = 1
    x[3][mask == 1] += rng.uniform(0.45, 0.65)
    return (np.clip(x, 0, 1) * 65535).astype(np.uint16), mask


def make_four_band(root: Path, counts: dict[str, int] | None = None, size: int = 32, seed: int = 0) -> Path:
    """A generic-layout segmentation folder of 4-band 16-bit TIFFs (planar) with single-channel PNG masks,
    classes ``background`` and ``target``, the targets visible only in band 4 (:func:`four_band_image`)."""
    import tifffile

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("background\ntarget\n")
    for split, n in (counts or {"train": 24, "val": 12}).items():
        (root / split / "images").mkdir(parents=True, exist_ok=True)
        (root / split / "masks").mkdir(parents=True, exist_ok=True)
        for i in range(n):
            image, mask = four_band_image(rng, size)
            tifffile.imwrite(root / split / "images" / f"{split}{i}.tif", image, photometric="minisblack",
                             planarconfig="separate")
            Image.fromarray(mask, mode="L").save(root / split / "masks" / f"{split}{i}.png")
    return root
