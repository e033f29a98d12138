"""Weighted k-NN and Top-k accuracy on features whose answers are known."""

import pytest
import torch

from colormae.errors import UserError
from colormae.eval.knn import knn_classify
from colormae.eval.results import TopKMeter, read_results, topk_accuracy, topk_correct, write_results
from colormae.train.knn import knn_votes


def _clusters(n_per: int, classes: int, dim: int, gen: torch.Generator, spread: float = 0.05):
    centres = torch.nn.functional.normalize(torch.randn(classes, dim, generator=gen), dim=1) * 5
    feats = centres.repeat_interleave(n_per, 0) + spread * torch.randn(classes * n_per, dim, generator=gen)
    labels = torch.arange(classes).repeat_interleave(n_per)
    return feats, labels


def test_knn_separable_clusters_is_exact(gen):
    train_x, train_y = _clusters(30, 7, 16, gen)
    test_x, test_y = _clusters(10, 7, 16, gen)
    # test clusters use fresh centres: re-use the training centres instead
    centres = torch.stack([train_x[train_y == c].mean(0) for c in range(7)])
    test_x = centres[test_y] + 0.05 * torch.randn(test_x.shape, generator=gen)
    acc = knn_classify(train_x, train_y, test_x, test_y, k=20, temperature=0.07)
    assert acc["top1"] == 100.0 and acc["top5"] == 100.0


def test_knn_votes_match_hand_computation():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    test = torch.tensor([[2.0, 0.0]])  # cosine: 1, 0, 1/sqrt(2)
    votes = knn_votes(train, labels, test, num_classes=3, k=2, temperature=0.5)
    expected = torch.tensor([[torch.exp(torch.tensor(2.0)), torch.exp(torch.tensor(2 ** -0.5 / 0.5)), 0.0]])
    torch.testing.assert_close(votes, expected)


def test_knn_scale_invariant_and_chunking(gen):
    x, y = _clusters(20, 4, 8, gen, spread=1.0)
    q = torch.randn(50, 8, generator=gen)
    a = knn_votes(x, y, q, num_classes=4, k=5, chunk_size=7)
    b = knn_votes(3 * x, y, 0.1 * q, num_classes=4, k=5, chunk_size=1000)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=0)


def test_knn_rejects_bad_options():
    x, y = torch.randn(5, 3), torch.arange(5) % 2
    with pytest.raises(UserError, match="--k"):
        knn_votes(x, y, x, num_classes=2, k=0)
    with pytest.raises(UserError, match="--temperature"):
        knn_votes(x, y, x, num_classes=2, temperature=0)


def test_topk_counts_and_meter(tmp_path):
    scores = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.05, 0.15], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    targets = torch.tensor([1, 2, 0, 0])
    assert topk_correct(scores, targets, (1, 2, 5)) == {1: 2, 2: 3, 5: 4}
    acc = topk_accuracy(scores, targets, (1, 2))
    assert acc == {"top1": 50.0, "top2": 75.0}
    meter = TopKMeter((1, 2))
    meter.update(scores[:1], targets[:1])
    meter.update(scores[1:], targets[1:])
    assert meter.compute() == acc
    path = write_results(tmp_path / "r" / "results.json", {"top1": 50.0, "name": "x"})
    assert read_results(path) == {"top1": 50.0, "name": "x"}
