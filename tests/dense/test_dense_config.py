"""The shipped ADE20K recipe and the generated command line of ``colormae segment``."""

from pathlib import Path

from colormae.cli import main
from colormae.config import load_config
from colormae.jobs.segment import SegmentConfig

REPO = Path(__file__).resolve().parents[2]


def test_ade20k_recipe_is_the_official_protocol():
    path = REPO / "configs" / "segment_upernet_vit_base_ade20k.yaml"
    cfg = load_config(SegmentConfig, path, overrides=["ckpt=random:mae_vit_base_patch16", "out=/tmp/x"])
    assert (cfg.crop_size, cfg.scale, cfg.ratio_range, cfg.cat_max_ratio, cfg.flip) == (
        512, (2048, 512), (0.5, 2.0), 0.75, 0.5)
    assert (cfg.out_indices, cfg.channels, cfg.aux_channels, cfg.aux_weight, cfg.pool_scales) == (
        (3, 5, 7, 11), 768, 256, 0.4, (1, 2, 3, 6))
    assert (cfg.lr, cfg.weight_decay, cfg.layer_decay, cfg.warmup_steps, cfg.max_steps, cfg.poly_power) == (
        1e-4, 0.05, 0.65, 1500, 160000, 1.0)
    assert (cfg.batch_size, cfg.amp, cfg.drop_path, cfg.layer_scale, cfg.mode, cfg.stride) == (
        2, "fp16", 0.1, 1.0, "slide", 341)
    assert cfg.reduce_zero_label is True and cfg.ignore_index == 255
    header = path.read_text().split("\n\n")[0]
    assert "colormae segment" in header and "45.80" in header and "49.18" in header and "46.46" in header


def test_help_lists_the_settings(capsys):
    try:
        main(["segment", "--help"])
    except SystemExit as stop:
        assert stop.code == 0
    text = capsys.readouterr().out
    for flag in ("--crop-size", "--save-predictions", "--layer-decay", "--mode", "--cat-max-ratio",
                 "--resume"):
        assert flag in text


def test_demo_finds_the_random_baseline_of_the_same_shape():
    from colormae.loading import load, preset_of
    from colormae.transfer.demo import dense_settings

    assert preset_of(load("random:mae_vit_micro_32px")) == "mae_vit_micro_32px"
    assert preset_of(load("random:mae_vit_tiny_32px")) == "mae_vit_tiny_32px"
    cfg = load_config(SegmentConfig, values={**dense_settings("segment"), "ckpt": "x", "out": "y"})  # valid
    assert cfg.data == "scenes"
