"""Pretraining data backends: the GPU path (run on the CPU) feeds what the CPU path feeds, and a run
on it with activation checkpointing and a float16 bank resumes bit-exactly."""

import numpy as np
import pytest
import torch
from PIL import Image

from colormae.config import load_config
from colormae.data import build_dataset
from colormae.data.normalization import imagenet
from colormae.errors import UserError
from colormae.jobs.pretrain import PretrainConfig
from colormae.pretrain.data import build_pretrain_data
from colormae.pretrain.run import pretrain


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory):
    root = tmp_path_factory.mktemp("jpegs")
    rng = np.random.default_rng(0)
    for i in range(24):
        h, w = int(rng.integers(36, 60)), int(rng.integers(36, 60))
        yy, xx = np.mgrid[0:h, 0:w] / 40
        img = np.stack([np.sin(4 * xx + c) + np.cos(3 * yy - c) for c in rng.uniform(0, 3, 3)], -1)
        img = ((img + 2) * 60 + rng.normal(0, 4, (h, w, 3))).clip(0, 255).astype(np.uint8)
        (root / f"c{i % 3}").mkdir(exist_ok=True)
        Image.fromarray(img).save(root / f"c{i % 3}" / f"{i}.jpg", quality=90)
    return root


def test_gpu_backend_feeds_the_cpu_backends_images(jpegs):
    def first_batch(backend):
        source = build_pretrain_data(build_dataset(str(jpegs), split="train"), 32, backend=backend,
                                     batch_size=8, seed=3, num_workers=0)
        source.loader.sampler.set_epoch(1)
        return source.images(next(iter(source.loader)))

    cpu, gpu = first_batch("cpu"), first_batch("gpu")
    assert cpu.shape == gpu.shape == (8, 3, 32, 32)
    assert (cpu - gpu).abs().mean() < 0.01  # same files, boxes and flips; decoders differ by rounding


def test_backend_errors(jpegs):
    with pytest.raises(UserError, match="data_backend"):
        build_pretrain_data(build_dataset(str(jpegs), split="train"), 32, backend="tpu", batch_size=8, seed=0)
    with pytest.raises(UserError, match="RGB"):
        build_pretrain_data(build_dataset(str(jpegs), split="train"), 32, imagenet(1), backend="gpu",
                            batch_size=8, seed=0)


def test_gpu_backend_run_resumes_bit_exactly(jpegs, tmp_path):
    kw = dict(model="mae_vit_micro_32px", data=str(jpegs), data_backend="gpu", num_workers=1,
              grad_checkpointing=True, bank_dtype="float16", bank_size=16, pattern_size=16, batch_size=8,
              epochs=2, warmup_epochs=0.5, lr=1e-3, ckpt_every=0, device="cpu", progress=False)

    def job(out, **more):
        return load_config(PretrainConfig, values={**kw, "out": str(out), **more})

    straight = pretrain(job(tmp_path / "a"))  # 3 steps per epoch: the resume crosses an epoch
    assert straight.step == 6 and straight.loss is not None and np.isfinite(straight.loss)
    pretrain(job(tmp_path / "b"), stop_at_step=2)
    resumed = pretrain(job(tmp_path / "b", resume="auto")).model.state_dict()
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, resumed[k]), k
