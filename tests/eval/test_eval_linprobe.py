"""Linear probe head and trainer: MAE's BatchNorm-without-affine head, LARS/SGD, cosine schedule."""

import pytest
import torch

from colormae.errors import UserError
from colormae.eval.linprobe import LinearProbeHead, make_optimizer, train_linear_probe


def _toy(gen, n=600, dim=16, classes=5, informative=True):
    y = torch.randint(0, classes, (n,), generator=gen)
    means = torch.randn(classes, dim, generator=gen) * 3
    # wildly different feature scales: the affine-free BatchNorm must cope
    scale = torch.logspace(-3, 3, dim)
    x = ((means[y] if informative else 0) + torch.randn(n, dim, generator=gen)) * scale
    return x, y


def test_head_is_batchnorm_without_affine_then_linear():
    head = LinearProbeHead(8, 3)
    assert isinstance(head[0], torch.nn.BatchNorm1d) and not head[0].affine and head[0].eps == 1e-6
    assert [n for n, _ in head.named_parameters()] == ["1.weight", "1.bias"]
    assert head[1].weight.std() < 0.02


# LARS's trust ratio (coefficient 1e-3) makes each step lr * 1e-3 of the weight norm: MAE's lr 6.4 at
# batch 16384; at batch 64 it needs an explicit large lr.
@pytest.mark.parametrize(("optimizer", "lr"), [("lars", 10.0), ("sgd", None)])
def test_probe_learns_separable_and_not_noise(gen, optimizer, lr):
    tx, ty = _toy(gen)
    vx, vy = _toy(torch.Generator().manual_seed(0))  # same class means (same seed as gen fixture)
    good = train_linear_probe((tx, ty), (vx, vy), num_classes=5, epochs=8, batch_size=64, lr=lr,
                              optimizer=optimizer, warmup_epochs=2, progress=False)
    nx, _ = _toy(gen, informative=False)
    noise = train_linear_probe((nx, ty), (vx, vy), num_classes=5, epochs=8, batch_size=64, lr=lr,
                               optimizer=optimizer, warmup_epochs=2, progress=False)
    assert good.top1 > 95.0 and good.top5 == 100.0
    assert noise.top1 < 40.0
    assert good.history[-1]["loss"] < good.history[0]["loss"]
    assert len(good.history) == 8


def test_probe_is_deterministic_and_uses_fresh_features_per_epoch(gen):
    tx, ty = _toy(gen)
    a = train_linear_probe((tx, ty), (tx, ty), num_classes=5, epochs=3, batch_size=64, progress=False)
    b = train_linear_probe((tx, ty), (tx, ty), num_classes=5, epochs=3, batch_size=64, progress=False)
    assert a.history == b.history
    seen = []

    def source(epoch):
        seen.append(epoch)
        return tx, ty

    train_linear_probe(source, (tx, ty), num_classes=5, epochs=3, batch_size=64, progress=False)
    assert seen == [0, 1, 2]


def test_lars_adapts_weights_not_biases():
    head = LinearProbeHead(4, 2)
    opt = make_optimizer(head, "lars", lr=0.1)
    assert [g["always_adapt"] for g in opt.param_groups] == [True, False]
    assert opt.param_groups[0]["params"][0] is head[1].weight
    with pytest.raises(UserError, match="unknown optimizer"):
        make_optimizer(head, "adam", lr=0.1)
