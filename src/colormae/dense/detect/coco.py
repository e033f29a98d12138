"""COCO-layout detection data read with pycocotools: an image folder and an instances JSON per split.

Layouts found under ``DATA`` (first match per split): ``annotations/instances_<split>2017.json`` with
``<split>2017/`` (COCO's own), or ``annotations/instances_<split>.json`` with ``<split>/`` or
``images/<split>/``. Categories keep their ids in the JSON (they need not be contiguous); the model sees
labels ``1..K`` in increasing category-id order (0 is background), :attr:`CocoSplit.cat_ids` maps back.

As COCO does: crowd annotations (``iscrowd=1``) are not training targets (torchvision's heads have no
ignore regions; COCOeval treats them as "ignore" when scoring); images without annotations stay in the
split for evaluation (they score false positives) but are left out of training batches, as mmdet's
``filter_empty_gt`` does. Masks may be polygons or RLE (compressed or not): ``COCO.annToMask``.

Images are read by the pretraining readers (:mod:`colormae.data.readers`): 8/16-bit PNG, multi-band and
16-bit TIFF, ``.npy``, as float ``(C, H, W)`` tensors in [0, 1] (scaled by bit depth) at
:attr:`CocoDetection.read_channels` channels (default: what most files have; grey -> RGB and the like
convert as :func:`colormae.data.readers.adapt_channels` does).

Bad input is refused at load time with one line naming the file and the first offending entry: image
files the JSON lists but the folder lacks, boxes of zero or negative width or height, annotations whose
category id is not among the JSON's categories, annotations of unknown images, image files that are not
readable or whose channel count or bit depth differs from the others'.
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
#: At most this many image headers (evenly spaced) are read to find a split's channel count.
SCAN_IMAGES = 2000


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
    """``ds[i] -> (image float (C, H, W) in [0, 1], target)`` for torchvision's detection models.

    ``target``: ``boxes`` float ``(N, 4)`` xyxy in pixels, ``labels`` int64 ``(N,)`` in ``1..K``,
    ``masks`` uint8 ``(N, H, W)`` (when ``masks``), ``image_id`` (the COCO id). Crowd annotations are
    dropped. ``train=True`` keeps only images with at least one non-crowd annotation. ``transform``
    (e.g. :class:`~colormae.dense.detect.transforms.LargeScaleJitter`) maps ``(image, target)`` pairs.
    ``channels``: the channel count ``C`` images are read at (:attr:`read_channels`; default: the files').
    """

    def __init__(self, split: CocoSplit, *, train: bool, masks: bool = True, transform: Any = None,
                 cat_ids: list[int] | None = None, channels: int | None = None) -> None:
        self.split = split
        self.name = str(split.images)
        self._channels: int | None = None
        self.read_channels = channels
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

    @property
    def images(self) -> list[Path]:
        """The image files, in sample order."""
        return [self.split.images / self.coco.imgs[i]["file_name"] for i in self.ids]

    @property
    def channels(self) -> int:
        """The images' channel count (what most of up to :data:`SCAN_IMAGES` evenly spaced files have, from
        their headers); one line naming a file that is unreadable or differs."""
        if self._channels is None:
            from colormae.data.folder import check_formats
            from colormae.data.readers import UnreadableImage, probe
            from colormae.data.subset import evenly_spaced

            files = self.images
            try:
                infos = [(str(files[i]), probe(files[i])) for i in evenly_spaced(len(files), SCAN_IMAGES)]
            except UnreadableImage as err:
                raise UserError(f"{err} (not a readable image)") from None
            self._channels = check_formats(infos, None, self.split.images)[0]
        return self._channels

    def image(self, index: int) -> Image.Image | Tensor:
        """Sample ``index``'s image as :func:`colormae.data.readers.read_image` reads it."""
        from colormae.data.readers import UnreadableImage, read_image

        try:
            return read_image(self.split.images / self.coco.imgs[self.ids[index]]["file_name"])
        except UnreadableImage as err:
            raise UserError(f"{err} (not a readable image)") from None

    def load_image(self, index: int) -> Tensor:
        """The image of sample ``index`` as float ``(C, H, W)`` in [0, 1], ``C`` = :attr:`read_channels`
        (an 8-bit image exactly its pixel values / 255)."""
        from torchvision.transforms.functional import pil_to_tensor

        from colormae.data.readers import adapt_channels

        image = adapt_channels(self.image(index), self.read_channels or self.channels)
        if isinstance(image, Image.Image):
            return pil_to_tensor(image).float() / 255.0
        return image.float()

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
        image = self.load_image(index)
        target = self.target(index, (int(image.shape[-2]), int(image.shape[-1])))
        if self.transform is not None:
            image, target = self.transform(image, target)
        return image, target


def collate(batch: list[tuple[Tensor, dict[str, Tensor]]]) -> tuple[tuple[Tensor, ...], tuple[dict, ...]]:
    """Detection batches stay lists: ``(images, targets)`` as tuples of per-image tensors and dicts."""
    return tuple(zip(*batch, strict=True))  # type: ignore[return-value]
