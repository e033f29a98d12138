"""Segmentation folders (ADE20K release and generic layouts), their errors, and the joint transforms."""

import numpy as np
import pytest
import torch
from fabricate import SIZES, make_ade, make_generic
from PIL import Image

from colormae.dense.augment import EvalTransform, TrainTransform, category_crop, rescale_size
from colormae.dense.data import ADE20K_CLASSES, SegDataset, open_source
from colormae.errors import UserError


def test_ade20k_layout_reduces_the_zero_label(tmp_path):
    raw = make_ade(tmp_path)
    src = open_source(str(tmp_path), "val")
    assert len(src) == 3 and src.classes == list(ADE20K_CLASSES) and len(src.classes) == 150
    assert src.stem(0) == "ADE_validation_00000000"
    src.check()
    for i, size in enumerate(SIZES):
        image, labels = src.read(i)
        assert image.size == size and labels.shape == (size[1], size[0])
        expected = np.where(raw["val"][i] == 0, 255, raw["val"][i] - 1)
        assert np.array_equal(labels, expected)
    assert labels[0, 0] == 255 and labels[0, 1] == 149
    # without the reduction: 151 classes, 0 kept
    plain = open_source(str(tmp_path), "train", reduce_zero_label=False)
    assert len(plain.classes) == 151 and np.array_equal(plain.read(2)[1], raw["train"][2])


@pytest.mark.parametrize("nested", [True, False])
def test_generic_layout_with_ignore(tmp_path, nested):
    raw = make_generic(tmp_path, nested=nested)
    src = open_source(str(tmp_path), "train")
    assert src.classes == ["sky", "road", "car"] and src.ignore_index == 255 and len(src) == 3
    src.check()
    for i, size in enumerate(SIZES):
        image, labels = src.read(i)
        assert image.size == size and np.array_equal(labels, raw["train"][i])
    assert (labels[:2, :2] == 255).all()


def test_dataset_through_the_transforms(tmp_path):
    make_ade(tmp_path)
    src = open_source(str(tmp_path), "train")
    torch.manual_seed(0)
    ds = SegDataset(src, TrainTransform(32, scale=(128, 32)))
    for i in range(len(ds)):
        img, lab = ds[i]
        assert img.shape == (3, 32, 32) and lab.shape == (32, 32) and lab.dtype == torch.int64
        assert set(lab.unique().tolist()) <= set(range(150)) | {255}
    img, lab = SegDataset(src, EvalTransform((128, 32)))[1]  # 52x36 -> short side 32
    assert img.shape == (3, 32, 46) and lab.shape == (36, 52)


def test_train_transform_pads_with_ignore():
    torch.manual_seed(0)
    t = TrainTransform(64, scale=(64, 16), ratio_range=(1.0, 1.0), photometric=False, flip=0.0)
    img, lab = t(Image.new("RGB", (20, 20)), np.zeros((20, 20), np.int64))  # -> 16x16, padded to 64
    assert img.shape == (3, 64, 64) and (lab[:16, :16] == 0).all() and (lab[16:] == 255).all()
    assert (img[:, 16:] == 0).all()


def test_rescale_size_keeps_ratio():
    assert rescale_size((512, 683), (2048, 512)) == (512, 683)
    assert rescale_size((100, 400), (2048, 512)) == (512, 2048)
    assert rescale_size((1000, 100), (2048, 512)) == (2048, 205)


def test_category_crop_avoids_one_class_crops():
    labels = torch.zeros(64, 64, dtype=torch.int64)
    labels[:, 48:] = 1  # a quarter of the image is class 1: few 16 px crops hold both classes well

    def good_fraction(ratio: float) -> float:
        torch.manual_seed(0)
        good = 0
        for _ in range(100):
            t, l, h, w = category_crop(labels, (16, 16), ratio, 255)
            counts = torch.bincount(labels[t:t + h, l:l + w].flatten(), minlength=2)
            good += bool(counts.min() > 0 and counts.max() / counts.sum() < 0.75)
        return good / 100

    plain, balanced = good_fraction(1.0), good_fraction(0.75)
    assert plain < 0.3 and balanced > 0.75  # p = 9/49 per draw; up to 11 draws: 1 - (40/49)**11 = 0.89


# ------------------------------------------------------------------------------------------ errors
def test_image_without_annotation(tmp_path):
    make_generic(tmp_path)
    (tmp_path / "val" / "masks" / "val1.png").unlink()
    with pytest.raises(UserError, match=r"val1\.png: no annotation .*val1\.png"):
        open_source(str(tmp_path), "val")


def test_mask_size_differs(tmp_path):
    make_ade(tmp_path)
    path = tmp_path / "annotations" / "training" / "ADE_training_00000001.png"
    Image.fromarray(np.zeros((5, 7), np.uint8), mode="L").save(path)
    src = open_source(str(tmp_path), "train")
    with pytest.raises(UserError, match=r"ADE_training_00000001\.png: mask is 7x5 but its image .* is 52x36"):
        src.check(labels=False)
    with pytest.raises(UserError, match="mask is 7x5 but its image is 52x36"):
        src.read(1)


def test_label_not_a_class(tmp_path):
    make_generic(tmp_path)
    path = tmp_path / "train" / "masks" / "train2.png"
    labels = np.zeros((47, 33), np.uint8)
    labels[3, 3] = 7
    Image.fromarray(labels, mode="L").save(path)
    src = open_source(str(tmp_path), "train")
    expected = r"train2\.png: label id 7 is not a class \(there are 3\) nor the ignore index 255"
    with pytest.raises(UserError, match=expected):
        src.check()


def test_empty_split_folder(tmp_path):
    make_generic(tmp_path)
    for p in (tmp_path / "val" / "images").iterdir():
        p.unlink()
    with pytest.raises(UserError, match=r"val/images: empty split folder"):
        open_source(str(tmp_path), "val")


def test_bad_input_is_one_line_through_the_cli(tmp_path, capsys):
    from colormae.cli import main

    data = tmp_path / "data"
    make_generic(data)
    (data / "train" / "masks" / "train0.png").unlink()
    out = tmp_path / "run"
    code = main(["segment", "random:mae_vit_micro_32px", "--data", str(data), "--out", str(out),
                 "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and "no annotation" in err[0]
    assert not out.exists()  # nothing half-made left behind
