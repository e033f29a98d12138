"""Built-in data: mnist5k split sizes / balance / shapes, photos crops, sample_images."""

import numpy as np
import pytest
import torch

from colormae.data import build_dataset, eval_transform, mae_transform, num_classes, sample_images
from colormae.errors import UserError


def test_mnist5k_split_sizes_balance_and_shapes():
    train, val = build_dataset("mnist5k"), build_dataset("mnist5k", split="val")
    assert (len(train), len(val)) == (4000, 1000)
    assert np.bincount(train.targets).tolist() == [400] * 10
    assert np.bincount(val.targets).tolist() == [100] * 10
    assert num_classes(train) == 10
    image, label = train[0]
    assert image.shape == (3, 28, 28) and image.dtype == torch.float32 and label == 0
    assert 0.0 <= image.min() and image.max() <= 1.0 and image.max() > 0.5
    assert torch.equal(image[0], image[1])  # grayscale replicated to RGB
    # disjoint splits: no val digit appears in train
    train_set = {im.tobytes() for im in train.images}
    assert not any(im.tobytes() in train_set for im in val.images[:200])


def test_mnist5k_with_mae_transform():
    image, _ = build_dataset("mnist5k", transform=mae_transform(32))[5]
    assert image.shape == (3, 32, 32)
    assert image.min() < -1.5  # normalized: black background is about -2


def test_photos_crops_and_labels():
    train = build_dataset("photos", transform=eval_transform(48))
    k = num_classes(train)
    assert k >= 3 and len(train) == 2048
    images = [train[i] for i in range(k + 1)]
    assert [label for _, label in images] == list(range(k)) + [0]
    assert all(x.shape == (3, 48, 48) for x, _ in images)
    val = build_dataset("photos", split="val")
    assert torch.equal(val[7][0], val[7][0])  # val crops are fixed
    torch.manual_seed(0)
    a = train[1][0]
    torch.manual_seed(1)
    assert not torch.equal(a, train[1][0])  # train crops are random


def test_sample_images_is_deterministic_and_normalized():
    x = sample_images("mnist5k", 6, 32)
    assert x.shape == (6, 3, 32, 32)
    assert torch.equal(x, sample_images("mnist5k", 6, 32))
    assert x.min() < -1.5 and x.max() > 1.5


def test_unknown_names_and_splits():
    with pytest.raises(UserError, match="mnist5k"):
        build_dataset("imagenet-does-not-exist")
    with pytest.raises(UserError, match="split"):
        build_dataset("mnist5k", split="test")
    with pytest.raises(UserError, match="split"):
        build_dataset("photos", split="test")


def test_photos_val_crops_come_from_pixels_train_never_sees():
    from colormae.data.photos import load_photos, split_box

    for photo in load_photos()[1]:
        w, h = photo.size
        a, b = split_box(w, h, "train"), split_box(w, h, "val")
        overlap_w = min(a[2], b[2]) - max(a[0], b[0])
        overlap_h = min(a[3], b[3]) - max(a[1], b[1])
        assert overlap_w <= 0 or overlap_h <= 0  # disjoint
        assert (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) == w * h  # a partition
    # a val crop equals the matching window of the photo's val region
    val = build_dataset("photos", split="val")
    crop = (val[3][0] * 255).round().byte().permute(1, 2, 0).numpy()
    photo = np.asarray(load_photos()[1][3])
    x0, y0, x1, y1 = split_box(photo.shape[1], photo.shape[0], "val")
    region = photo[y0:y1, x0:x1]
    found = any(np.array_equal(region[t:t + crop.shape[0], l:l + crop.shape[1]], crop)
                for t in range(region.shape[0] - crop.shape[0] + 1)
                for l in range(region.shape[1] - crop.shape[1] + 1))
    assert found
