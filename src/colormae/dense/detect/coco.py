"""COCO-layout detection data read with pycocotools: an image folder and an instances JSON per split.

Layouts found under ``DATA`` (first match per split): ``annotations/instances_<split>2017.json`` with
``<split>2017/`` (COCO's own), or ``annotations/instances_<split>.json`` with ``<split>/`` or
``images/<split>/``. Categories keep their ids in the JSON (they need not be contiguous); the model sees
labels ``1..K`` in increasing category-id order (0 is background), :attr:`CocoSplit.cat_ids` maps back.

As COCO does: crowd annotations (``iscrowd=1``) are not training targets (torchvision's heads have no
ignore regions; COCOeval treats them as "ignore" when scoring); images without annotations stay in the
split for evaluation (they score false positives) but are left out of training batches, as mmdet's
``filter_empty_gt`` does. Masks may be polygons or RLE (compressed or not): ``COCO.annToMask``.

Bad input is refused at load time with one line naming the file and the first offending entry: image
files the JSON lists but the folder lacks, boxes of zero or negative width or height, annotations whose
category id is not among the JSON's categories, annotations of unknown images.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from colormae.errors import UserError
from colormae.extras import require

SPLITS = ("train", "val")


@dataclass(frozen=True)
class CocoSplit:
    """One split on disk: its instances JSON and image folder."""

    json: Path
    images: Path


def find_split(root: str | Path, split: str) -> CocoSplit:
    """The JSON and image folder of ``split`` under ``root`` (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such data folder (expected a COCO layout: annotations/instances_"
                        f"{split}.json and {split}/)")
    candidates = [(root / "annotations" / f"instances_{split}2017.json", [root / f"{split}2017"]),
                  (root / "annotations" / f"instances_{split}.json", [root / split, root / "images" / split])]
    for js, folders in candidates:
        if js.is_file():
            for folder in folders:
                if folder.is_dir():
                    return CocoSplit(js, folder)
            raise UserError(f"{js}: found, but no image folder {' or '.join(str(f) for f in folders)}")
    raise UserError(f"{root}: no annotations/instances_{split}.json (nor instances_{split}2017.json)")


def read_coco(path: str | Path) -> Any:
    """A ``pycocotools.coco.COCO`` index of an instances JSON, quietly (pycocotools prints progress)."""
    COCO = require("pycocotools.coco", extra="dense", feature="COCO annotations").COCO

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: not a readable JSON file ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("categories"), list):
        raise UserError(f"{path}: not a COCO instances file (needs 'images' and 'categories' lists)")
    data.setdefault("annotations", [])
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def check_coco(coco: Any, name: str, image_dir: Path) -> None:
    """Refuse (one line each) missing image files, degenerate boxes, unknown categories and images."""
    cats = set(coco.cats)
    for ann in coco.dataset["annotations"]:
        aid = ann.get("id")
        if ann.get("image_id") not in coco.imgs:
            raise UserError(f"{name}: annotation {aid} refers to image id {ann.get('image_id')}, which is "
                            "not "
                            "in 'images'")
        if ann.get("category_id") not in cats:
            raise UserError(f"{name}: annotation {aid} (image {ann['image_id']}) has category id "
                            f"{ann.get('category_id')}, which is not in 'categories' ({sorted(cats)})")
        box = ann.get("bbox")
        if not isinstance(box, list) or len(box) != 4:
            raise UserError(f"{name}: annotation {aid} (image {ann['image_id']}) has no [x, y, w, h] bbox")
        if not (box[2] > 0 and box[3] > 0):
            raise UserError(f"{name}: annotation {aid} (image {ann['image_id']}) has a box of zero or "
                            f"negative size: bbox {box}")
    for img in coco.dataset["images"]:
        if not all(isinstance(img.get(k), int) and img[k] > 0 for k in ("height", "width")) \
                or "file_name" not in img:
            raise UserError(f"{name}: image id {img.get('id')} needs 'file_name' and positive integer "
                            "'height' and 'width'")
    missing = [img for img in coco.dataset["images"] if not (image_dir / img["file_name"]).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        path = image_dir / missing[0]["file_name"]
        raise UserError(f"{name}: image id {missing[0]['id']} points to {path}, "
                        f"which does not exist{more}")


class CocoDetection(torch.utils.data.Dataset):
    """``ds[i] -> (image float (3, H, W) in [0, 1], target)`` for torchvision's detection models.

    ``target``: ``boxes`` float ``(N, 4)`` xyxy in pixels, ``labels`` int64 ``(N,)`` in ``1..K``,
    ``masks`` uint8 ``(N, H, W)`` (when ``masks``), ``image_id`` (the COCO id). Crowd annotations are
    dropped. ``train=True`` keeps only images with at least one non-crowd annotation. ``transform``
    (e.g. :class:`~colormae.dense.detect.transforms.LargeScaleJitter`) maps ``(image, target)`` pairs.
    """

    def __init__(self, split: CocoSplit, *, train: bool, masks: bool = True, transform: Any = None,
                 cat_ids: list[int] | None = None) -> None:
        self.split = split
        self.coco = read_coco(split.json)
        check_coco(self.coco, str(split.json), split.images)
        self.cat_ids = sorted(self.coco.cats) if cat_ids is None else list(cat_ids)
        unknown = sorted(set(self.coco.cats) - set(self.cat_ids))
        if unknown:
            raise UserError(f"{split.json}: category ids {unknown} are not among the training categories "
                            f"{self.cat_ids}")
        self.label_of = {c: i + 1 for i, c in enumerate(self.cat_ids)}
        self.masks = masks
        self.transform = transform
        ids = sorted(self.coco.imgs)
        if train:
            ids = [i for i in ids if any(not a.get("iscrowd", 0) for a in self.coco.imgToAnns.get(i, []))]
            if not ids:
                raise UserError(f"{split.json}: no image has a (non-crowd) annotation to train on")
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def num_classes(self) -> int:
        """Number of object categories (without background)."""
        return len(self.cat_ids)

    @property
    def class_names(self) -> list[str]:
        """Category names in label order."""
        return [str(self.coco.cats[c].get("name", c)) for c in self.cat_ids]

    def load_image(self, index: int) -> Image.Image:
        """The RGB image of sample ``index``."""
        info = self.coco.imgs[self.ids[index]]
        with Image.open(self.split.images / info["file_name"]) as img:
            return img.convert("RGB")

    def target(self, index: int, size: tuple[int, int]) -> dict[str, Tensor]:
        """The target of sample ``index`` for an image of ``size = (H, W)`` (see the class docstring)."""
        image_id = self.ids[index]
        anns = [a for a in self.coco.imgToAnns.get(image_id, []) if not a.get("iscrowd", 0)]
        h, w = size
        boxes = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
        target = {"boxes": boxes,
                  "labels": torch.tensor([self.label_of[a["category_id"]] for a in anns], dtype=torch.int64),
                  "image_id": torch.tensor(image_id)}
        if self.masks:
            info = self.coco.imgs[image_id]
            if (info.get("height", h), info.get("width", w)) != (h, w):
                raise UserError(f"{self.split.json}: image id {image_id} is {w}x{h} on disk but "
                                f"{info.get('width')}x{info.get('height')} in the JSON")
            masks = [self.coco.annToMask(a) for a in anns]
            target["masks"] = (torch.from_numpy(np.stack(masks)) if masks
                               else torch.zeros((0, h, w), dtype=torch.uint8))
        return target

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Tensor]]:
        from torchvision.transforms.functional import pil_to_tensor

        img = self.load_image(index)
        image = pil_to_tensor(img).float() / 255.0
        target = self.target(index, (img.height, img.width))
        if self.transform is not None:
            image, target = self.transform(image, target)
        return image, target


def collate(batch: list[tuple[Tensor, dict[str, Tensor]]]) -> tuple[tuple[Tensor, ...], tuple[dict, ...]]:
    """Detection batches stay lists: ``(images, targets)`` as tuples of per-image tensors and dicts."""
    return tuple(zip(*batch, strict=True))  # type: ignore[return-value]
