"""Fixtures of the fault tests: the fine-tuned classifier of the tiny ImageFolder (tests/conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # mounts.py


@pytest.fixture(scope="session")
def finetuned(tmp_path_factory, tiny_folder):
    """A fine-tuning run directory (1 epoch of a micro ViT on :func:`tiny_folder`)."""
    from colormae.config import load_config
    from colormae.eval.finetune import finetune
    from colormae.jobs.finetune import FinetuneConfig

    out = tmp_path_factory.mktemp("ft") / "run"
    finetune(load_config(FinetuneConfig, values=dict(
        epochs=1, batch_size=8, num_workers=0, progress=False, seed=3, warmup_epochs=1,
        ckpt="random:mae_vit_micro_32px", data=str(tiny_folder), out=str(out))))
    return out
