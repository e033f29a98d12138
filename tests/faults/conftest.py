"""Fixtures of the fault tests: a tiny 3-class ImageFolder, its fine-tuned classifier."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))  # mounts.py


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("tinyfolder")
    rng = np.random.default_rng(0)
    colours = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}
    for split, n in (("train", 8), ("val", 4)):
        for name, rgb in colours.items():
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                arr = np.clip(np.array(rgb) + rng.normal(0, 20, (32, 32, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(arr).save(root / split / name / f"{i}.png")
    return root


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
