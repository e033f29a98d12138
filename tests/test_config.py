"""Typed configs: YAML + key=value overrides, type coercion, errors that name the key."""

import dataclasses
import inspect
from pathlib import Path

import pytest

from colormae.config import PretrainConfig, config_to_dict, load_config, write_config
from colormae.errors import UserError

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
    write_config(cfg, tmp_path / "config.yaml")
    assert load_config(PretrainConfig, tmp_path / "config.yaml") == cfg


def test_pretrain_signature_matches_config():
    """pretrain() takes exactly the config keys (plus run options) with the same defaults."""
    from colormae.train.pretrain import pretrain

    params = inspect.signature(pretrain).parameters
    defaults = config_to_dict(PretrainConfig())
    for f in dataclasses.fields(PretrainConfig):
        assert f.name in params, f.name
        default = params[f.name].default
        assert (list(default) if isinstance(default, tuple) else default) == defaults[f.name], f.name


@pytest.mark.parametrize("name", ["cpu_demo.yaml", "colormae_vit_base_300e.yaml"])
def test_shipped_configs_load(name):
    cfg = load_config(PretrainConfig, REPO / "configs" / name)
    assert cfg.masking == "green"


def test_cpu_demo_yaml_matches_the_demo():
    from colormae.experiments.demo import demo_config

    assert load_config(PretrainConfig, REPO / "configs" / "cpu_demo.yaml") == demo_config()


def test_paper_config_effective_batch():
    cfg = load_config(PretrainConfig, REPO / "configs" / "colormae_vit_base_300e.yaml")
    assert cfg.batch_size * cfg.accum_steps * 8 == 4096 and cfg.epochs == 300 and cfg.warmup_epochs == 40
