"""The resumable, seeded training loader: order, sharding, mid-epoch start, augmentation seeding."""

import os

import pytest
import torch
from toy import NoisyPoints

from colormae.errors import UserError
from colormae.train import loader as loader_mod
from colormae.train.distributed import DistInfo
from colormae.train.loader import (
    ResumableSampler,
    SeededDataset,
    build_eval_loader,
    build_train_loader,
    default_num_workers,
    resolve_num_workers,
)


def test_sampler_epochs_shards_and_start():
    ds = list(range(20))
    s0 = ResumableSampler(ds, num_replicas=2, rank=0, seed=1)
    s1 = ResumableSampler(ds, num_replicas=2, rank=1, seed=1)
    for epoch in (0, 1):
        s0.set_epoch(epoch)
        s1.set_epoch(epoch)
        a, b = [i for _, i in s0], [i for _, i in s1]
        assert len(a) == len(b) == 10 and sorted(a + b) == ds
    s0.set_epoch(0)
    e0 = list(s0)
    s0.set_epoch(1)
    assert list(s0) != [(1, i) for _, i in e0]  # reshuffled per epoch
    s0.set_epoch(0)
    s0.set_start(4)
    assert list(s0) == e0[4:] and len(s0) == 6
    s0.set_epoch(0)  # set_epoch resets the start
    assert list(s0) == e0


def test_seeded_dataset_is_order_and_worker_independent():
    ds = SeededDataset(NoisyPoints(), seed=5)
    a = ds[(2, 7)][0]
    torch.manual_seed(123)
    _ = ds[(2, 3)]
    assert torch.equal(ds[(2, 7)][0], a)
    assert not torch.equal(ds[(3, 7)][0], a)  # another epoch, another augmentation
    state = torch.get_rng_state()
    _ = ds[(0, 0)]
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is untouched


def test_loader_batches_same_with_and_without_workers():
    def epoch(workers):
        loader = build_train_loader(NoisyPoints(n=24), batch_size=8, seed=2, num_workers=workers,
                                    dist=DistInfo())
        loader.sampler.set_epoch(1)
        return [x for x, _ in loader]

    zero, two = epoch(0), epoch(2)
    assert len(zero) == 3
    assert all(torch.equal(a, b) for a, b in zip(zero, two, strict=True))


class WhoLoads(NoisyPoints):
    """NoisyPoints that also reports the process that loaded each sample."""

    def __getitem__(self, i):
        x, y = super().__getitem__(i)
        return x, y, torch.tensor(os.getpid())


def test_workers_persist_across_epochs_and_resume_reads_the_same_batches():
    def run(workers, start_batch=0):
        loader = build_train_loader(WhoLoads(n=24), batch_size=4, seed=3, num_workers=workers)
        out, pids = [], set()
        for epoch in (0, 1, 2):
            loader.sampler.set_epoch(epoch)
            if epoch == 1 and start_batch:
                loader.sampler.set_start(start_batch * 4)  # a run resumed mid-epoch 1
            for i, (x, _, pid) in enumerate(loader):
                out.append(x)
                pids.update(pid.tolist())
                if epoch == 0 and i == 2:
                    break  # an epoch left unfinished (stop_at_step); the workers must survive it
        return out, pids

    reference, main_pids = run(0)
    assert main_pids == {os.getpid()}
    batches, pids = run(2)
    assert len(pids) == 2 and os.getpid() not in pids  # the same two workers served all three epochs
    assert len(batches) == len(reference) == 3 + 6 + 6
    assert all(torch.equal(a, b) for a, b in zip(batches, reference, strict=True))
    resumed, _ = run(2, start_batch=2)
    assert all(torch.equal(a, b) for a, b in zip(resumed, reference[:3] + reference[5:], strict=True))


def test_default_num_workers_splits_the_cpus(monkeypatch):
    monkeypatch.setattr(loader_mod, "available_cores", lambda: 16)
    assert default_num_workers(1) == 15 and default_num_workers(4) == 3 and default_num_workers(16) == 0
    monkeypatch.setattr(loader_mod, "available_cores", lambda: 128)
    assert default_num_workers(2) == loader_mod.MAX_AUTO_WORKERS
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")
    assert default_num_workers() == 15
    assert resolve_num_workers(None) == resolve_num_workers("auto") == 15
    assert resolve_num_workers(3) == resolve_num_workers("3") == 3


@pytest.mark.parametrize("bad", [-1, "many", 1.5, True])
def test_bad_num_workers_is_a_user_error(bad):
    with pytest.raises(UserError, match="num_workers"):
        resolve_num_workers(bad)


def test_eval_loader_shards_in_order_with_workers():
    data = [(torch.tensor(float(i)), i) for i in range(11)]
    shards = [[int(y) for _, ys in build_eval_loader(data, batch_size=2, num_workers=1, rank=r, world_size=3)
               for y in ys] for r in range(3)]
    assert shards == [list(range(r, 11, 3)) for r in range(3)]
    assert [int(y) for _, ys in build_eval_loader(data, batch_size=4) for y in ys] == list(range(11))
