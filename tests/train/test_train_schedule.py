"""Warmup + cosine lr per step, and the linear scaling rule."""

import math

import pytest

from colormae.train.schedule import WarmupCosine, scaled_lr


def test_warmup_then_cosine_values():
    s = WarmupCosine(peak_lr=1.0, warmup_steps=10, total_steps=110, min_lr=0.1)
    assert s(0) == 0.0
    assert s(5) == pytest.approx(0.5)
    assert s(10) == pytest.approx(1.0)
    assert s(60) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the cosine
    assert s(35) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.25)))
    assert s(110) == pytest.approx(0.1)
    assert s(500) == pytest.approx(0.1)  # past the end it stays at min_lr
    lrs = [s(i) for i in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def test_no_warmup():
    s = WarmupCosine(peak_lr=2.0, warmup_steps=0, total_steps=4)
    assert [s(i) for i in range(5)] == pytest.approx([2.0, 2.0 * (1 + math.cos(math.pi / 4)) / 2, 1.0,
                                                      2.0 * (1 + math.cos(3 * math.pi / 4)) / 2, 0.0])


def test_linear_scaling_rule():
    assert scaled_lr(1.5e-4, 4096) == pytest.approx(2.4e-3)  # paper recipe: 1.5e-4 x 4096 / 256
    assert scaled_lr(1.5e-4, 256) == pytest.approx(1.5e-4)


def test_warmup_poly_values():
    """mmseg's LinearLR(start_factor=1e-6) + PolyLR: the warm-up starts at 1e-6 of the peak, the decay ends
    at min_lr."""
    from colormae.train.schedule import WarmupPoly

    s = WarmupPoly(peak_lr=1e-4, warmup_steps=10, total_steps=110, power=1.0, min_lr=0.0)
    assert s(0) == pytest.approx(1e-10)
    assert s(5) == pytest.approx(1e-4 * (1e-6 + (1 - 1e-6) * 0.5))
    assert s(10) == pytest.approx(1e-4)
    assert s(60) == pytest.approx(0.5e-4)
    assert s(110) == 0.0 and s(200) == 0.0
    assert WarmupPoly(2.0, 0, 4, power=2.0, min_lr=0.5)(2) == pytest.approx(1.5 * 0.25 + 0.5)
