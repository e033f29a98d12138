"""``schedule=reference``: the official ColorMAE run's lr at every logged iteration, and ``mae`` unchanged."""

import math
from pathlib import Path

import pytest
import torch

from colormae.config import load_config
from colormae.jobs.pretrain import PretrainConfig
from colormae.pretrain.schedule import pretrain_lr_schedule
from colormae.train.distributed import DistInfo
from colormae.train.loader import build_train_loader
from colormae.train.plan import plan_steps, steps_per_epoch
from colormae.train.schedule import LinearWarmupCosine, WarmupCosine

ROOT = Path(__file__).resolve().parents[2]
LOG = Path(__file__).with_name("colormae_green_300e_lr.txt")
IMAGENET_TRAIN = 1_281_167


def _official_lrs() -> list[tuple[int, float]]:
    rows = [line.split() for line in LOG.read_text().splitlines() if line and not line.startswith("#")]
    return [(int(it), float(lr)) for it, lr in rows]


def test_reference_config_matches_the_official_log():
    """Every lr of the official 300-epoch log (mmengine's 1-based ``iter`` = our step + 1), within 1e-6."""
    cfg = load_config(PretrainConfig, ROOT / "configs" / "colormae_vit_base_300e_reference.yaml")
    assert cfg.schedule == "reference"
    lrs = pretrain_lr_schedule(cfg, IMAGENET_TRAIN, world_size=8)
    assert len(lrs) == 300 * 313
    official = _official_lrs()
    assert len(official) == 900 and official[-1][0] == 93887
    worst = max(abs(lrs[it - 1] - lr) / lr for it, lr in official)
    assert worst < 1e-6


def test_default_schedule_is_unchanged():
    """``schedule=mae``: 312 full batches per epoch, warm-up from 0, the same WarmupCosine as before."""
    cfg = load_config(PretrainConfig, ROOT / "configs" / "colormae_vit_base_300e.yaml")
    assert cfg.schedule == "mae"
    lrs = pretrain_lr_schedule(cfg, IMAGENET_TRAIN, world_size=8)
    assert len(lrs) == 300 * 312
    expect = WarmupCosine(2.4e-3, 40 * 312, 300 * 312)
    assert lrs[0] == 0.0 and all(lrs[s] == expect(s) for s in (1, 100, 12480, 50000, 93599))


def test_linear_warmup_cosine_shape():
    s = LinearWarmupCosine(1.0, 11, 111, start_factor=1e-4)
    assert s(0) == pytest.approx(1e-4) and s(10) == pytest.approx(1.0) and s(11) == 1.0
    assert s(61) == pytest.approx(0.5) and s(111) == pytest.approx(0.0, abs=1e-15)
    assert s(5) == pytest.approx(1e-4 + (1 - 1e-4) * 0.5)
    assert math.isclose(LinearWarmupCosine(2.0, 1, 3)(0), 2.0)


@pytest.mark.parametrize("drop_last", [True, False])
@pytest.mark.parametrize(("n", "world", "batch", "accum"), [(103, 1, 8, 1), (103, 3, 4, 2), (96, 4, 8, 1)])
def test_steps_per_epoch_matches_the_loader(n, world, batch, accum, drop_last):
    data = torch.utils.data.TensorDataset(torch.zeros(n, 1))
    for rank in range(world):
        loader = build_train_loader(data, batch_size=batch, seed=0, num_workers=0, drop_last=drop_last,
                                    dist=DistInfo(rank=rank, world_size=world))
        assert plan_steps(loader, epochs=1, accum_steps=accum)[0] == steps_per_epoch(
            n, batch_size=batch, world_size=world, accum_steps=accum, drop_last=drop_last)
