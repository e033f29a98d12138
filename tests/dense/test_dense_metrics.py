"""mIoU / mAcc / aAcc against a direct confusion-matrix computation, ignored pixels included."""

import math

import numpy as np
import pytest
import torch

from colormae.dense.metrics import ConfusionMatrix, segmentation_metrics


def test_fixed_predictions_by_hand():
    # classes 0..3; class 3 never occurs in truth or prediction (no IoU, no Acc); 255 is ignored
    target = torch.tensor([[0, 0, 1], [1, 2, 255], [255, 255, 255]])
    pred = torch.tensor([[0, 1, 1], [1, 0, 2], [3, 3, 3]])  # predictions on ignored pixels do not count
    cm = ConfusionMatrix(4, ignore_index=255)
    cm.update(pred, target)
    assert cm.counts.tolist() == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    m = cm.compute(["a", "b", "c", "d"])
    assert m["IoU"] == pytest.approx({"a": 100 / 3, "b": 200 / 3, "c": 0.0, "d": None})
    assert m["Acc"] == pytest.approx({"a": 50.0, "b": 100.0, "c": 0.0, "d": None})
    assert m["mIoU"] == pytest.approx(100 / 3)
    assert m["mAcc"] == pytest.approx(50.0)
    assert m["aAcc"] == pytest.approx(60.0)


def test_predicted_but_absent_class_has_zero_iou_and_no_acc():
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([0, 2, 1]), torch.tensor([0, 1, 1]))
    m = cm.compute()
    assert m["IoU"]["2"] == 0.0 and m["Acc"]["2"] is None
    assert m["mIoU"] == pytest.approx((100 + 50 + 0) / 3)
    assert m["mAcc"] == pytest.approx((100 + 50) / 2)


def test_random_predictions_match_a_direct_computation():
    rng = np.random.default_rng(0)
    k, ignore = 5, 255
    target = rng.integers(0, k, (4, 17, 23))
    target[rng.random(target.shape) < 0.2] = ignore
    pred = rng.integers(0, k, target.shape)
    cm = ConfusionMatrix(k, ignore)
    for t, p in zip(target, pred, strict=True):  # several updates add up
        cm.update(torch.as_tensor(p), torch.as_tensor(t))
    valid = target != ignore
    ious, accs = [], []
    for c in range(k):
        inter = np.sum((pred == c) & (target == c) & valid)
        union = np.sum(((pred == c) | (target == c)) & valid)
        gt = np.sum((target == c) & valid)
        ious.append(inter / union)
        accs.append(inter / gt)
    m = cm.compute()
    assert m["mIoU"] == pytest.approx(100 * np.mean(ious))
    assert m["mAcc"] == pytest.approx(100 * np.mean(accs))
    assert m["aAcc"] == pytest.approx(100 * np.sum((pred == target) & valid) / valid.sum())
    assert segmentation_metrics(cm.counts)["mIoU"] == pytest.approx(m["mIoU"])


def test_nothing_labelled_gives_nan():
    cm = ConfusionMatrix(2)
    cm.update(torch.zeros(3), torch.full((3,), 255))
    assert math.isnan(cm.compute()["mIoU"]) and math.isnan(cm.compute()["aAcc"])
