"""Fine-tuning ``schedule=reference``: both lr columns of the official ColorMAE fine-tuning log at every
logged iteration, and ``mae`` unchanged."""

import math
from pathlib import Path

import pytest

from colormae.config import load_config
from colormae.eval.schedule import finetune_lr_schedule
from colormae.jobs.finetune import FinetuneConfig
from colormae.train.loop import group_lr
from colormae.train.schedule import LinearWarmupCosine, WarmupCosine

ROOT = Path(__file__).resolve().parents[2]
LOG = Path(__file__).with_name("colormae_green_300e_finetune_lr.txt")
IMAGENET_TRAIN = 1_281_167
#: Layer-decay scale of the first parameter group (patch embedding, cls token, position embedding) of a
#: 12-block ViT at layer decay 0.65: mmengine logs that group's lr as ``lr``.
FIRST_GROUP_SCALE = 0.65 ** 13


def _official() -> list[tuple[int, float, float]]:
    rows = [line.split() for line in LOG.read_text().splitlines() if line and not line.startswith("#")]
    return [(int(it), float(base), float(lr)) for it, base, lr in rows]


def _reference() -> FinetuneConfig:
    cfg = load_config(FinetuneConfig, ROOT / "configs" / "finetune_colormae_vit_base_reference.yaml",
                      values={"ckpt": "random:mae_vit_base_patch16"})
    assert cfg.schedule == "reference"
    return cfg


def test_reference_config_matches_the_official_schedule_column():
    """``base_lr`` (the schedule before layer decay) at every logged iteration (1-based ``iter`` = our step
    + 1), within 1e-6 relative; 1,252 steps per epoch."""
    lrs = finetune_lr_schedule(_reference(), IMAGENET_TRAIN, world_size=8)
    assert len(lrs) == 100 * 1252
    official = _official()
    assert len(official) == 1200 and official[-1][0] == 125148
    assert max(abs(lrs[it - 1] - base) / base for it, base, _ in official) < 1e-6


def test_reference_config_matches_the_first_group_column():
    """``lr`` (the first group, scale 0.65 ** 13): mmengine decays every group to the same absolute
    ``eta_min``, which ``schedule(step) * lr_scale`` would not (it ends at ``min_lr * scale``)."""
    lrs = finetune_lr_schedule(_reference(), IMAGENET_TRAIN, world_size=8, lr_scale=FIRST_GROUP_SCALE)
    official = _official()
    assert max(abs(lrs[it - 1] - lr) / lr for it, _, lr in official) < 1e-6
    naive = LinearWarmupCosine(2e-3, 5 * 1252, 100 * 1252, 1e-6)
    last_it, _, last_lr = official[-1]
    assert abs(naive(last_it - 1) * FIRST_GROUP_SCALE - last_lr) / last_lr > 0.5  # the rule matters


def test_default_schedule_is_unchanged():
    """``schedule=mae``: 1,251 full batches per epoch and today's WarmupCosine, each group at lr x scale."""
    cfg = load_config(FinetuneConfig, ROOT / "configs" / "finetune_mae_paper.yaml",
                      values={"ckpt": "random:mae_vit_base_patch16", "batch_size": 128})
    assert cfg.schedule == "mae"
    lrs = finetune_lr_schedule(cfg, IMAGENET_TRAIN, world_size=8, lr_scale=0.5)
    assert len(lrs) == 100 * 1251
    expected = WarmupCosine(2e-3, 5 * 1251, 100 * 1251, 1e-6)
    for step in (0, 1, 6254, 6255, 60000, 125099):
        assert lrs[step] == pytest.approx(expected(step) * 0.5, rel=1e-12)
    assert group_lr(expected, 7, 1.0, 0.5) == 0.5  # no group rule of its own: lr x scale


def test_group_lr_at_scale_one_is_the_schedule():
    schedule = LinearWarmupCosine(1e-3, 10, 100, 1e-5)
    assert all(schedule.group_lr(s, 1.0) == schedule(s) for s in range(100))
    assert math.isclose(schedule.group_lr(99, 0.1), 1e-5, rel_tol=1e-2)
