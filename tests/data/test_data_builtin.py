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
