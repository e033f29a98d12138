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
