"""The ViT-L / ViT-H pretraining configs: every key is a pretraining setting, the recipe's numbers hold."""

import dataclasses
import inspect
from pathlib import Path

import pytest
import yaml

from colormae.train.pretrain import pretrain

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SCALE = {"colormae_vit_large_800e.yaml": ("mae_vit_large_patch16", 8),
         "colormae_vit_huge_800e.yaml": ("mae_vit_huge_patch14", 16)}


def job_config() -> type:
    """The pretraining job's dataclass (colormae.jobs.pretrain after the config rewrite)."""
    try:
        from colormae.jobs.pretrain import PretrainConfig
    except ImportError:
        from colormae.config import PretrainConfig
    return PretrainConfig


@pytest.mark.parametrize("name", list(SCALE))
def test_scale_config_keys_and_recipe(name):
    values = yaml.safe_load((CONFIGS / name).read_text())
    model, gpus = SCALE[name]
    known = set(inspect.signature(pretrain).parameters) | {f.name for f in dataclasses.fields(job_config())}
    assert set(values) <= known, set(values) - known
    assert values["model"] == model and values["grad_checkpointing"] is True
    assert values["batch_size"] * values["accum_steps"] * gpus == 4096 and values["epochs"] == 800
    assert values["data_backend"] == "gpu" and values["num_workers"] is None


@pytest.mark.parametrize("name", list(SCALE))
def test_scale_config_loads_as_a_job_config(name):
    from colormae.config import load_config

    config_cls = job_config()
    if "grad_checkpointing" not in {f.name for f in dataclasses.fields(config_cls)}:
        pytest.skip("the pretraining job config has no grad_checkpointing / data_backend / bank_dtype yet")
    cfg = load_config(config_cls, CONFIGS / name)
    assert cfg.grad_checkpointing and cfg.data_backend == "gpu"
