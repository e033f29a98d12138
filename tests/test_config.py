"""Typed configs: YAML + key=value overrides, type coercion, errors that name the key."""

import dataclasses
from pathlib import Path

import pytest

from colormae.config import config_yaml, load_config
from colormae.errors import UserError
from colormae.files import atomic_write_text
from colormae.jobs.pretrain import PretrainConfig

REPO = Path(__file__).resolve().parents[1]


def test_defaults_are_the_paper_recipe():
    cfg = load_config(PretrainConfig)
    assert (cfg.model, cfg.masking, cfg.mask_ratio, cfg.epochs, cfg.warmup_epochs) == (
        "mae_vit_base_patch16", "green", 0.75, 300, 40.0)
    assert (cfg.base_lr, cfg.weight_decay, cfg.betas) == (1.5e-4, 0.05, (0.9, 0.95))


def test_overrides_are_coerced():
    cfg = load_config(PretrainConfig, overrides=[
        "epochs=3", "mask_ratio=0.5", "compile=true", "lr=1e-3", "img_size=none", "betas=[0.8, 0.9]",
        "mask_schedule=[[0, green], [100, blue]]", "amp=bf16", "data=/some/path", "--batch-size=4"])
    assert cfg.epochs == 3 and cfg.mask_ratio == 0.5 and cfg.compile is True and cfg.lr == 1e-3
    assert cfg.img_size is None and cfg.betas == (0.8, 0.9) and cfg.amp == "bf16" and cfg.batch_size == 4
    assert cfg.mask_schedule == [(0, "green"), (100, "blue")] and cfg.data == "/some/path"


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 5\nmasking: red\nbatch_size: 16\n")
    cfg = load_config(PretrainConfig, path, ["batch_size=8"])
    assert (cfg.epochs, cfg.masking, cfg.batch_size) == (5, "red", 8)


@pytest.mark.parametrize("override, message", [
    ("epoch=3", "unknown config key 'epoch' on the command line (did you mean 'epochs'?)"),
    ("batch_size=abc", "'batch_size'"),
    ("batch_size=0", "'batch_size': 0 is below the minimum 1"),
    ("mask_ratio=1.0", "'mask_ratio'"),
    ("amp=fp8", "'amp': 'fp8' is not one of auto, none, bf16, fp16"),
    ("compile=maybe", "'compile'"),
    ("betas=[0.9]", "'betas'"),
    ("lr=fast", "'lr'"),
    ("epochs=2.5", "'epochs'"),
    ("noequals", "expected key=value"),
])
def test_bad_values_name_the_key(override, message):
    with pytest.raises(UserError) as err:
        load_config(PretrainConfig, overrides=[override])
    assert message in str(err.value)


def test_unknown_key_in_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 5\nmask_ration: 0.5\n")
    with pytest.raises(UserError, match=r"unknown config key 'mask_ration' in .*c.yaml"):
        load_config(PretrainConfig, path)
    path.write_text("- 1\n- 2\n")
    with pytest.raises(UserError, match="mapping"):
        load_config(PretrainConfig, path)
    with pytest.raises(UserError, match="no such config file"):
        load_config(PretrainConfig, tmp_path / "missing.yaml")


def test_write_and_read_back(tmp_path):
    cfg = load_config(PretrainConfig, overrides=["mask_schedule=[[0, green], [3, red]]", "grad_clip=1.0"])
    atomic_write_text(tmp_path / "config.yaml", config_yaml(cfg))
    assert load_config(PretrainConfig, tmp_path / "config.yaml") == cfg


def test_every_job_generates_its_command_line():
    """Each setting is declared once, in its job's dataclass; the CLI flags and help come from it."""
    import argparse

    from colormae.commands.jobs import JOBS
    from colormae.config import add_config_arguments

    jobs = JOBS
    assert {j.name for j in jobs} >= {"pretrain", "finetune", "linprobe", "knn", "sweep", "demo"}
    for job in jobs:
        parser = argparse.ArgumentParser()
        add_config_arguments(parser, job.config)
        dests = {a.dest for a in parser._actions}
        for f in dataclasses.fields(job.config):
            assert f.name in dests, (job.name, f.name)
            assert f.metadata.get("help"), (job.name, f.name)  # every setting explains itself in --help


def test_flags_and_overrides_go_through_the_same_checks():
    from colormae.cli import build_parser
    from colormae.config import config_from_args, split_overrides

    parser = build_parser()
    args, extra = parser.parse_known_args(["finetune", "random:x", "--layer-decay", "0.5", "mixup=0",
                                           "--no-progress", "epochs=none", "max_steps=7"])
    overrides, rest = split_overrides(extra)
    cfg = config_from_args(args.job.config, args, overrides)
    assert (cfg.ckpt, cfg.layer_decay, cfg.mixup, cfg.progress, cfg.epochs, cfg.max_steps) == (
        "random:x", 0.5, 0.0, False, None, 7) and rest == []
    args, extra = parser.parse_known_args(["finetune", "random:x", "--layer-decay", "2"])
    with pytest.raises(UserError, match="'layer_decay': 2.0 is above the maximum 1.0"):
        config_from_args(args.job.config, args, [])


@pytest.mark.parametrize("name", ["cpu_demo.yaml", "colormae_vit_base_300e.yaml", "small_folder_laptop.yaml"])
def test_shipped_configs_load(name):
    cfg = load_config(PretrainConfig, REPO / "configs" / name)
    assert cfg.masking == "green"


def test_shipped_recipes_are_package_data_found_by_name(tmp_path, monkeypatch):
    from colormae.config import RECIPES, recipe

    assert (REPO / "configs").resolve() == RECIPES.resolve()  # the repository's configs/ links there
    assert recipe("cpu_demo") == recipe("cpu_demo.yaml") == RECIPES / "cpu_demo.yaml"
    with pytest.raises(UserError, match=r"no shipped recipe 'cpu_dmeo' \(the recipes: .*cpu_demo"):
        recipe("cpu_dmeo")
    monkeypatch.chdir(tmp_path)  # by name from anywhere; a file of that name wins
    assert load_config(PretrainConfig, "cpu_demo") == load_config(PretrainConfig, RECIPES / "cpu_demo.yaml")
    (tmp_path / "cpu_demo.yaml").write_text("epochs: 3\n")
    assert load_config(PretrainConfig, "cpu_demo.yaml").epochs == 3
    with pytest.raises(UserError, match="no such config file"):
        load_config(PretrainConfig, "sub/cpu_demo.yaml")
    from colormae.cli import build_parser
    from colormae.config import config_from_args

    args, _ = build_parser().parse_known_args(["pretrain", "--config", "segment_scenes_demo", "--out", "r"])
    with pytest.raises(UserError, match="unknown config key 'crop_size' in the given values"):
        config_from_args(args.job.config, args)  # the shipped segmentation recipe, read by name
    args, _ = build_parser().parse_known_args(["segment", "x", "--config", "segment_scenes_demo"])
    assert config_from_args(args.job.config, args).crop_size == 32


def test_paper_config_effective_batch():
    cfg = load_config(PretrainConfig, REPO / "configs" / "colormae_vit_base_300e.yaml")
    assert cfg.batch_size * cfg.accum_steps * 8 == 4096 and cfg.epochs == 300 and cfg.warmup_epochs == 40
