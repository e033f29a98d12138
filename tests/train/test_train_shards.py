"""Pretraining from tar shards: 40 steps interrupted at 20 and resumed end with the weights of 40 straight
steps (0 and 2 workers); two gloo ranks on shards of uneven sizes run the same steps and finish; the GPU
data path reads shard bytes."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from PIL import Image

from colormae.config import load_config
from colormae.data import build_dataset
from colormae.data.shard_writer import write_shards
from colormae.jobs.pretrain import PretrainConfig
from colormae.pretrain.data import build_pretrain_data
from colormae.pretrain.run import pretrain

pytest.importorskip("webdataset")


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """26 JPEGs of 3 classes as shards of 10, 10 and 6 samples."""
    root = tmp_path_factory.mktemp("jpegs")
    rng = np.random.default_rng(0)
    for i in range(26):
        h, w = int(rng.integers(36, 60)), int(rng.integers(36, 60))
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        (root / f"c{i % 3}").mkdir(exist_ok=True)
        Image.fromarray(img).save(root / f"c{i % 3}" / f"{i}.jpg", quality=90)
    out = tmp_path_factory.mktemp("shards") / "s"
    write_shards(str(root), out, per_shard=10, seed=1, show_progress=False)
    return out


def _config(out, data, **more) -> PretrainConfig:
    kw = dict(model="mae_vit_micro_32px", data=str(data), num_workers=0, bank_size=16, pattern_size=16,
              batch_size=4, epochs=7, max_steps=40, warmup_epochs=1, lr=1e-3, ckpt_every=0, device="cpu",
              progress=False, amp="none")
    return load_config(PretrainConfig, values={**kw, "out": str(out), **more})


def _resume_matches_straight(shards, tmp_path, workers: int, steps: int = 40, stop: int = 20) -> None:
    straight = pretrain(_config(tmp_path / "a", shards, num_workers=workers, max_steps=steps))
    assert straight.step == steps  # 6 steps per epoch: the stop falls mid-epoch
    pretrain(_config(tmp_path / "b", shards, num_workers=workers, max_steps=steps), stop_at_step=stop)
    resumed = pretrain(_config(tmp_path / "b", shards, num_workers=workers, max_steps=steps, resume="auto"))
    assert resumed.step == steps
    state = resumed.model.state_dict()
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_resume_from_shards_is_bit_exact_quick(shards, tmp_path):
    _resume_matches_straight(shards, tmp_path, workers=0, steps=8, stop=4)  # crosses an epoch


@pytest.mark.slow  # ~70 s on a shared 2-CPU machine
def test_resume_from_shards_is_bit_exact(shards, tmp_path):
    _resume_matches_straight(shards, tmp_path, workers=0)


@pytest.mark.slow  # ~130 s on a shared 2-CPU machine
def test_resume_from_shards_is_bit_exact_with_two_workers(shards, tmp_path):
    _resume_matches_straight(shards, tmp_path, workers=2)


def test_gpu_path_reads_shard_bytes(shards):
    def first_batch(backend):
        source = build_pretrain_data(build_dataset(str(shards)), 32, backend=backend, batch_size=8, seed=3,
                                     num_workers=0)
        source.loader.sampler.set_epoch(1)
        return source.images(next(iter(source.loader)))

    cpu, gpu = first_batch("cpu"), first_batch("gpu")
    assert cpu.shape == gpu.shape == (8, 3, 32, 32)
    assert (cpu - gpu).abs().mean() < 0.01  # same bytes, boxes and flips; decoders differ by rounding


def _rank_main(rank: int, world: int, port: int, out: str, data: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    from colormae.models import MaskedAutoencoder

    steps, forward = [], MaskedAutoencoder.forward

    def counting_forward(self, images, *args, **kwargs):
        steps.append(images.shape[0])
        return forward(self, images, *args, **kwargs)

    MaskedAutoencoder.forward = counting_forward
    result = pretrain(_config(out, data, epochs=1, max_steps=None, warmup_epochs=0))
    torch.save({"steps": steps, "state": result.model.state_dict(), "step": result.step},
               os.path.join(out, f"rank{rank}.pt"))


def test_two_gloo_ranks_on_uneven_shards_run_the_same_steps(shards, tmp_path, free_port):
    """26 samples in shards of 10, 10, 6: split by shard the ranks would get 16 and 10 samples (and one
    would wait forever at the epoch's end); split by sample each gets 13 -> 3 full batches of 4."""
    mp.start_processes(_rank_main, args=(2, free_port(), str(tmp_path), str(shards)), nprocs=2, join=True,
                       start_method="spawn")
    a, b = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert a["steps"] == b["steps"] == [4] * 3 and a["step"] == b["step"] == 3
    for k in a["state"]:
        assert torch.equal(a["state"][k], b["state"][k]), k


pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")
