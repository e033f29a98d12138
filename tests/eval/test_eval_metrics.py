"""Balanced and per-class accuracy against scikit-learn, batch accumulation, the one-class warning, and
the metrics each evaluation (k-NN, linear probe, fine-tune) reports."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score, recall_score

from colormae.eval.results import (
    ClassificationMeter,
    CollapsedPredictionsWarning,
    classification_metrics,
    confusion_matrix,
)


def _scores(predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """One-hot-ish scores whose argmax is ``predictions`` (ties broken away by a small ramp)."""
    scores = torch.linspace(0, 0.1, num_classes).repeat(len(predictions), 1)
    scores[torch.arange(len(predictions)), predictions] = 1.0
    return scores


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_balanced_and_per_class_accuracy_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    targets = rng.choice(5, size=97, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    predictions = np.where(rng.random(97) < 0.6, targets, rng.integers(0, 5, 97))
    m = classification_metrics(_scores(torch.as_tensor(predictions), 5), torch.as_tensor(targets), warn=False)
    assert m["balanced_acc"] == pytest.approx(100 * balanced_accuracy_score(targets, predictions))
    assert m["top1"] == pytest.approx(100 * float(np.mean(predictions == targets)))
    recalls = recall_score(targets, predictions, labels=list(range(5)), average=None, zero_division=0)
    assert [m["per_class_acc"][str(c)] for c in range(5)] == pytest.approx(list(100 * recalls))
    assert m["predicted_classes"] == len(set(predictions.tolist()))
    assert "warning" not in m


def test_class_without_validation_images_is_left_out_as_sklearn_does():
    targets = np.array([0, 0, 0, 1, 1, 3])           # class 2 has no images; class 2 is predicted once
    predictions = np.array([0, 2, 0, 1, 0, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # sklearn warns about the predicted-only class
        expected = balanced_accuracy_score(targets, predictions)
    m = classification_metrics(_scores(torch.as_tensor(predictions), 4), torch.as_tensor(targets),
                               class_names=["a", "b", "c", "d"], warn=False)
    assert m["balanced_acc"] == pytest.approx(100 * expected)
    assert m["per_class_acc"] == {"a": pytest.approx(200 / 3), "b": 50.0, "c": None, "d": 100.0}


def test_meter_over_batches_equals_one_pass():
    gen = torch.Generator().manual_seed(0)
    scores, targets = torch.randn(50, 4, generator=gen), torch.randint(0, 4, (50,), generator=gen)
    meter = ClassificationMeter((1, 2), num_classes=4)
    for i in range(0, 50, 16):
        meter.update(scores[i:i + 16], targets[i:i + 16])
    assert meter.compute() == classification_metrics(scores, targets, ks=(1, 2))
    assert torch.equal(meter.confusion, confusion_matrix(scores.argmax(1), targets, 4))


def test_one_class_predictions_warn():
    targets = torch.tensor([0, 1, 1, 1, 2, 1])
    scores = _scores(torch.ones(6, dtype=torch.long), 3)
    with pytest.warns(CollapsedPredictionsWarning, match="predicts only class cat for every image"):
        m = classification_metrics(scores, targets, class_names=["dog", "cat", "fish"])
    assert m["top1"] == pytest.approx(100 * 4 / 6) and m["balanced_acc"] == pytest.approx(100 / 3)
    assert "6 validation images, 66.7 % of which are cat" in m["warning"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # two predicted classes: no warning
        classification_metrics(_scores(torch.tensor([1, 1, 1, 1, 1, 0]), 3), targets)


def test_knn_and_linear_probe_report_balanced_accuracy():
    from colormae.eval.knn import knn_classify
    from colormae.eval.linprobe import train_linear_probe

    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 8, generator=gen) * 3
    train_y = torch.tensor([0] * 30 + [1] * 10 + [2] * 10)
    val_y = torch.tensor([0] * 12 + [1] * 4 + [2] * 4)
    train_x = centres[train_y] + torch.randn(50, 8, generator=gen)
    val_x = centres[val_y] + torch.randn(20, 8, generator=gen)
    knn = knn_classify(train_x, train_y, val_x, val_y, num_classes=3, k=5, class_names=["a", "b", "c"])
    assert set(knn["per_class_acc"]) == {"a", "b", "c"}
    votes_pred = [k for k in knn["per_class_acc"].values()]
    assert knn["balanced_acc"] == pytest.approx(sum(votes_pred) / 3)
    probe = train_linear_probe((train_x, train_y), (val_x, val_y), num_classes=3, epochs=20, batch_size=10,
                               lr=0.1, warmup_epochs=1, progress=False)
    d = probe.as_dict()
    assert d["balanced_acc"] == probe.balanced_acc and probe.balanced_acc > 80
    assert "balanced_acc" in d["history"][-1] and set(d["per_class_acc"]) == {"0", "1", "2"}
