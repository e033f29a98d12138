"""COCO-layout detection data: fabricated folders load exactly; bad input gets one clear line each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colormae.dense.detect.coco import CocoDetection, collate, find_split
from colormae.dense.detect.transforms import LargeScaleJitter
from colormae.errors import UserError

#: Non-contiguous category ids, as COCO's own (1..90 with gaps).
CATS = [{"id": 3, "name": "square"}, {"id": 7, "name": "disc"}, {"id": 90, "name": "bar"}]
H, W = 40, 48


def _rle(mask: np.ndarray, compressed: bool) -> dict:
    from pycocotools import mask as mask_util

    if compressed:
        rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
        rle["counts"] = rle["counts"].decode("ascii")
        return rle
    flat = mask.astype(np.uint8).flatten(order="F")  # uncompressed RLE: run lengths, column-major, 0s first
    counts, current, run = [], 0, 0
    for v in flat:
        if v == current:
            run += 1
        else:
            counts.append(run)
            current, run = v, 1
    counts.append(run)
    return {"counts": counts, "size": [mask.shape[0], mask.shape[1]]}


def make_coco(root: Path, *, n_images: int = 6, seed: int = 0) -> dict[str, dict]:
    """A tiny COCO folder (train and val): squares (polygons), discs (compressed RLE), bars (uncompressed
    RLE), one crowd region, one image without annotations per split. Returns the JSON dicts by split."""
    rng = np.random.default_rng(seed)
    out = {}
    for split in ("train", "val"):
        folder = root / split
        folder.mkdir(parents=True)
        images, anns = [], []
        for i in range(n_images):
            img = (rng.uniform(0, 60, (H, W, 3))).astype(np.uint8)
            image_id = 100 + 10 * i  # ids need not be contiguous either
            images.append({"id": image_id, "file_name": f"{split}_{i}.png", "height": H, "width": W})
            if i == n_images - 1:  # no annotations at all
                Image.fromarray(img).save(folder / f"{split}_{i}.png")
                continue
            x, y = int(rng.integers(1, 14)), int(rng.integers(1, 10))
            img[y:y + 12, x:x + 12] = (230, 40, 40)
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 3, "iscrowd": 0,
                         "bbox": [x, y, 12, 12], "area": 144,
                         "segmentation": [[x, y, x + 12, y, x + 12, y + 12, x, y + 12]]})
            yy, xx = np.mgrid[:H, :W]
            cx, cy = 34, 26
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= 36
            img[disc] = (40, 230, 40)
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 7, "iscrowd": 0,
                         "bbox": [28, 20, 13, 13], "area": int(disc.sum()), "segmentation": _rle(disc, True)})
            bar = np.zeros((H, W), bool)
            bar[33:37, 4:30] = True
            img[bar] = (40, 40, 230)
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 90, "iscrowd": 0,
                         "bbox": [4, 33, 26, 4], "area": int(bar.sum()), "segmentation": _rle(bar, False)})
            if i == 0:  # a crowd region: not a training target, "ignore" for COCOeval
                crowd = np.zeros((H, W), bool)
                crowd[2:8, 36:46] = True
                anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 3, "iscrowd": 1,
                             "bbox": [36, 2, 10, 6], "area": 60, "segmentation": _rle(crowd, False)})
            Image.fromarray(img).save(folder / f"{split}_{i}.png")
        data = {"images": images, "annotations": anns, "categories": CATS}
        (root / "annotations").mkdir(exist_ok=True)
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))
        out[split] = data
    return out


@pytest.fixture
def coco_root(tmp_path: Path) -> Path:
    make_coco(tmp_path / "coco")
    return tmp_path / "coco"


def test_fabricated_coco_loads(coco_root: Path) -> None:
    train = CocoDetection(find_split(coco_root, "train"), train=True)
    val = CocoDetection(find_split(coco_root, "val"), train=False, cat_ids=train.cat_ids)
    assert len(train) == 5 and len(val) == 6  # the empty image only stays for evaluation
    assert train.cat_ids == [3, 7, 90] and train.label_of == {3: 1, 7: 2, 90: 3}
    assert train.class_names == ["square", "disc", "bar"]
    image, target = train[0]
    assert image.shape == (3, H, W) and image.dtype == torch.float32 and 0 <= image.min() and image.max() <= 1
    assert target["labels"].tolist() == [1, 2, 3]  # the crowd region is not a target
    data = json.loads((coco_root / "annotations" / "instances_train.json").read_text())
    first = [a for a in data["annotations"] if a["image_id"] == 100 and not a["iscrowd"]]
    expected = torch.tensor([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                              a["bbox"][1] + a["bbox"][3]] for a in first], dtype=torch.float32)
    assert torch.equal(target["boxes"], expected)
    masks = target["masks"]
    assert masks.shape == (3, H, W) and masks.dtype == torch.uint8
    assert int(masks[1].sum()) == first[1]["area"] and int(masks[2].sum()) == first[2]["area"]  # RLE exact
    x, y = first[0]["bbox"][:2]
    assert masks[0, y + 1:y + 11, x + 1:x + 11].all() and int(masks[0].sum()) >= 144  # polygon filled
    _, empty = val[5]
    assert empty["boxes"].shape == (0, 4) and empty["masks"].shape == (0, H, W)
    images, targets = collate([train[0], train[1]])
    assert len(images) == 2 and targets[1]["image_id"].item() == 110


def test_coco2017_layout_is_found(tmp_path: Path) -> None:
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_val2017.json").write_text("{}")
    (tmp_path / "val2017").mkdir()
    split = find_split(tmp_path, "val")
    assert split.images == tmp_path / "val2017"


def _broken(root: Path, edit) -> Path:
    path = root / "annotations" / "instances_train.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return root


@pytest.mark.parametrize(("edit", "words"), [
    (lambda d: d["images"].__setitem__(0, {**d["images"][0], "file_name": "gone.png"}), "does not exist"),
    (lambda d: d["annotations"][0]["bbox"].__setitem__(2, 0), "zero or negative size"),
    (lambda d: d["annotations"][1]["bbox"].__setitem__(3, -2.5), "zero or negative size"),
    (lambda d: d["annotations"][2].__setitem__("category_id", 5), "category id 5"),
])
def test_bad_input_one_line(coco_root: Path, edit, words: str) -> None:
    _broken(coco_root, edit)
    with pytest.raises(UserError) as err:
        CocoDetection(find_split(coco_root, "train"), train=True)
    message = str(err.value)
    assert words in message and "\n" not in message and "instances_train.json" in message


def test_missing_layout_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="instances_train"):
        find_split(tmp_path, "train")


def test_large_scale_jitter_keeps_boxes_and_masks_together(coco_root: Path) -> None:
    ds = CocoDetection(find_split(coco_root, "train"), train=True)
    jitter = LargeScaleJitter(64, (0.5, 2.0))
    torch.manual_seed(0)
    for i in range(len(ds)):
        image, target = ds[i]
        out, t = jitter(image, target)
        assert out.shape == (3, 64, 64)
        boxes, masks = t["boxes"], t["masks"]
        assert boxes.shape[0] == masks.shape[0] == t["labels"].shape[0]
        assert (boxes >= 0).all() and (boxes <= 64).all() and (boxes[:, 2:] > boxes[:, :2]).all()
        for box, mask in zip(boxes, masks, strict=True):
            ys, xs = torch.nonzero(mask, as_tuple=True)
            if len(ys):  # every mask pixel lies in its box (one pixel of slack for resampling)
                assert xs.min() >= box[0] - 1 and xs.max() <= box[2] + 1
                assert ys.min() >= box[1] - 1 and ys.max() <= box[3] + 1
    ones = torch.ones(3, 10, 20)
    target = {"boxes": torch.tensor([[0.0, 0.0, 5.0, 10.0]]), "labels": torch.tensor([1]),
              "masks": torch.zeros(1, 10, 20, dtype=torch.uint8)}
    flip = LargeScaleJitter(20, (1.0, 1.0), flip_prob=1.0)
    out, t = flip(ones, target)
    assert torch.equal(t["boxes"], torch.tensor([[15.0, 0.0, 20.0, 10.0]]))
    assert torch.allclose(out[:, 10:], torch.full((3, 10, 20), 114 / 255))  # padded grey below the image
