"""The 'auto' fine-tuning recipe: MAE's values at ImageNet scale, no mixing and a larger lr on small sets,
layer decay per depth, explicit values win."""

import math

import pytest

from colormae.eval.recipe import (
    AUTO,
    PAPER,
    SMALL_DECAY,
    SMALL_LR,
    augmentation_strength,
    finetune_recipe,
    resolve_auto,
)


def test_imagenet_scale_gives_maes_recipe():
    r = finetune_recipe(1_281_167, depth=12, batch_size=1024, total_steps=125_000)
    assert r.strength == 1.0
    assert r.lr == pytest.approx(PAPER["base_lr"] * 1024 / 256)
    assert r.layer_decay == pytest.approx(PAPER["layer_decay"])
    assert (r.mixup, r.cutmix, r.reprob, r.crop_min) == pytest.approx((0.8, 1.0, 0.25, 0.08))
    assert r.auto_augment == PAPER["auto_augment"] and r.drop_path == pytest.approx(0.1)
    assert r.warmup_steps == round(0.05 * 125_000)


def test_small_set_turns_mixing_off_and_keeps_a_usable_lr():
    r = finetune_recipe(2_000, depth=6, batch_size=64, total_steps=300)
    assert r.strength == 0.0 and r.mixup == r.cutmix == r.reprob == 0.0 and r.auto_augment is None
    assert r.lr == pytest.approx(SMALL_LR) and r.crop_min == pytest.approx(0.35)
    assert r.warmup_steps == 15 and r.drop_path == pytest.approx(0.05)
    # square-root batch scaling on small sets: 4x the batch, 2x the lr
    assert finetune_recipe(2_000, 6, 256, total_steps=300).lr == pytest.approx(2 * SMALL_LR)
    assert finetune_recipe(2_000, 6, 64, total_steps=300, pretrained=False).layer_decay == 1.0
    # mid-size sets sit in between, mixing only from half strength on
    mid = finetune_recipe(50_000, 12, 256, total_steps=10_000)
    assert 0 < mid.strength < 0.5 and mid.mixup == 0.0 and 0 < mid.reprob < 0.25
    assert augmentation_strength(100_000) == pytest.approx(0.5)
    assert finetune_recipe(100_000, 12, 256, total_steps=1).mixup == pytest.approx(0.4)


@pytest.mark.parametrize("depth", [2, 6, 12, 24])
def test_layer_decay_keeps_the_lowest_blocks_share_of_the_lr(depth):
    small = finetune_recipe(1_000, depth, 64, total_steps=100).layer_decay
    large = finetune_recipe(2_000_000, depth, 64, total_steps=100).layer_decay
    assert small ** depth == pytest.approx(SMALL_DECAY ** 12)
    assert large ** depth == pytest.approx(PAPER["layer_decay"] ** 12)
    assert math.isclose(small, SMALL_DECAY) == (depth == 12)


def test_resolve_auto_fills_only_auto_values():
    r = finetune_recipe(1_000, 6, 64, total_steps=200)
    out = resolve_auto({"lr": AUTO, "layer_decay": 0.9, "mixup": AUTO, "warmup_epochs": AUTO,
                        "auto_augment": None}, r)
    assert out == {"lr": r.lr, "layer_decay": 0.9, "mixup": 0.0, "warmup_steps": 10, "auto_augment": None}
    assert resolve_auto({"warmup_epochs": 2}, r) == {"warmup_epochs": 2}
    with pytest.raises(ValueError, match="no automatic value"):
        resolve_auto({"weight_decay": AUTO}, r)
    with pytest.raises(ValueError):
        finetune_recipe(0, 6, 64, total_steps=1)


def test_paper_config_file_is_maes_recipe():
    from pathlib import Path

    import yaml

    from colormae.config import load_config
    from colormae.jobs.finetune import FinetuneConfig

    values = yaml.safe_load((Path(__file__).parents[2] / "configs" / "finetune_mae_paper.yaml").read_text())
    cfg = load_config(FinetuneConfig, values={"ckpt": "random:mae_vit_micro_32px", "out": "x", **values})
    assert {k: getattr(cfg, k) for k in PAPER} == PAPER
    assert load_config(FinetuneConfig, values={"ckpt": "c", "out": "x"}).layer_decay == AUTO
