"""The ViT-L / ViT-H pretraining configs: every key is a pretraining setting, the recipe's numbers hold."""

from pathlib import Path

import pytest
import yaml

from colormae.config import load_config
from colormae.jobs.pretrain import PretrainConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SCALE = {"colormae_vit_large_800e.yaml": ("mae_vit_large_patch16", 8),
         "colormae_vit_huge_800e.yaml": ("mae_vit_huge_patch14", 16)}


@pytest.mark.parametrize("name", list(SCALE))
def test_scale_config_loads_and_keeps_the_recipe(name):
    values = yaml.safe_load((CONFIGS / name).read_text())
    model, gpus = SCALE[name]
    cfg = load_config(PretrainConfig, CONFIGS / name, values={"out": "run"})  # every key known and valid
    assert cfg.grad_checkpointing and cfg.data_backend == "gpu" and cfg.num_workers is None
    assert values["model"] == model and values["grad_checkpointing"] is True
    assert values["batch_size"] * values["accum_steps"] * gpus == 4096 and values["epochs"] == 800
    assert values["data_backend"] == "gpu" and values["num_workers"] is None
