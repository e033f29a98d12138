"""The built-in digit scenes (:mod:`colormae.dense.scenes`) written out as a COCO detection data set.

One instance per pasted digit that stays visible: its box, its visible stroke pixels as an RLE mask, its
area in pixels; categories ``digit 0`` ... ``digit 9`` with ids 1..10. Layout:
``ROOT/annotations/instances_{train,val}.json`` + ``ROOT/images/{train,val}/*.png`` (multispectral
scenes: ``*.npy`` arrays ``(H, W, N)`` uint8), which
:func:`colormae.dense.detect.coco.find_split` reads like any COCO folder. Writing is deterministic and
skipped when ``ROOT/scenes.json`` says the same scenes are already there.
"""

from __future__ import annotations

import json
from pathlib import Path

from colormae.dense.detect.evaluate import encode_mask
from colormae.files import atomic_write, atomic_write_text

#: Digit ``d`` is category ``d + 1``.
CATEGORIES = [{"id": d + 1, "name": f"digit {d}", "supercategory": "digit"} for d in range(10)]


def export_scenes(root: str | Path, *, size: int, seed: int = 0, lengths: dict[str, int] | None = None,
                  bands: int = 3) -> Path:
    """Write the scenes of ``size`` px and ``bands`` bands (``lengths`` per split, default the built-in
    ones) under ``root``."""
    import numpy as np

    from colormae.dense.scenes import LENGTHS, SPLITS, DigitScenes

    root = Path(root)
    lengths = {s: (lengths or {}).get(s, LENGTHS[s]) for s in SPLITS}
    stamp: dict = {"size": size, "seed": seed, "lengths": lengths, "version": 1}
    if bands != 3:
        stamp["bands"] = bands
    marker = root / "scenes.json"
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        return root
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        source = DigitScenes(split, seed=seed, size=size, length=lengths[split], bands=bands)
        folder = root / "images" / split
        folder.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for i in range(len(source)):
            scene = source.scene(i)
            if bands == 3:
                name = f"{source.stem(i)}.png"
                atomic_write(folder / name, lambda fh, im=scene.image: im.save(fh, format="PNG"), sync=False)
            else:
                name = f"{source.stem(i)}.npy"
                atomic_write(folder / name, lambda fh, im=scene.image: np.save(fh, np.asarray(im)),
                             sync=False)
            images.append({"id": i + 1, "file_name": name, "height": size, "width": size})
            for inst in scene.instances:
                x0, y0, x1, y1 = inst.box
                annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": inst.label,
                                    "bbox": [x0, y0, x1 - x0, y1 - y0], "area": int(inst.mask.sum()),
                                    "segmentation": encode_mask(inst.mask), "iscrowd": 0})
        data = {"images": images, "annotations": annotations, "categories": CATEGORIES}
        atomic_write_text(root / "annotations" / f"instances_{split}.json", json.dumps(data))
    atomic_write_text(marker, json.dumps(stamp))  # last: the set is whole
    return root
