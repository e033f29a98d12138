"""A training DataLoader that resumes exactly: same sample order, same augmentations, mid-epoch.

* :class:`ResumableSampler` is a :class:`~torch.utils.data.DistributedSampler` (seeded permutation per
  epoch, sharded by rank) that can start part-way through an epoch, so a resumed run skips the
  samples it already consumed without loading them.
* :class:`SeededDataset` seeds the augmentation RNG from (seed, epoch, index) for every sample, so
  random crops and flips do not depend on worker count, worker seeding or where a run was resumed.
  torchvision transforms draw from the global RNG, so there is no library hook for this: hence by hand.
* Workers persist across epochs (no respawn per epoch): the sampler runs in the main process and is
  re-read by every ``iter(loader)``, and a sample depends only on (seed, epoch, index), so reusing workers
  changes nothing the model sees.
* ``num_workers=None`` (or ``"auto"``) takes :func:`default_num_workers`: the CPUs this process may use,
  shared among the processes of this node, one left for the main process.
* :func:`build_eval_loader`: an ordered, sharded loader with workers for validation and features.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from colormae.errors import UserError
from colormae.train.distributed import DistInfo
from colormae.train.distributed import local_world_size as torchrun_local_world_size
from colormae.train.rng import seeded_rng
from colormae.train.threads import available_cores


class ResumableSampler(DistributedSampler):
    """DistributedSampler yielding ``(epoch, index)`` keys, optionally starting at sample ``start``."""

    def __init__(self, dataset: Dataset, *, num_replicas: int = 1, rank: int = 0, seed: int = 0,
                 shuffle: bool = True, drop_last: bool = True) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=drop_last)
        self.start = 0

    def set_start(self, start: int) -> None:
        """Skip the first ``start`` samples of this rank's share of the current epoch (reset by set_epoch)."""
        self.start = start

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.start = 0

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        indices = list(super().__iter__())[self.start:]
        return iter([(self.epoch, i) for i in indices])

    def __len__(self) -> int:
        return self.num_samples - self.start


class SeededDataset(Dataset):
    """A dataset read as ``ds[(epoch, index)]``: ``base[index]`` under RNGs seeded by (seed, epoch, index)."""

    def __init__(self, base: Dataset, seed: int) -> None:
        self.base = base
        self.seed = seed

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        sample_seed = int(np.random.SeedSequence([self.seed, epoch, index]).generate_state(1, np.uint64)[0])
        with seeded_rng(sample_seed % 2**63):
            return self.base[index]


#: Upper bound of the automatic worker count per process (beyond this, JPEG decoding rarely scales).
MAX_AUTO_WORKERS = 16


def default_num_workers(local_world_size: int | None = None) -> int:
    """Worker processes per training process: the available CPUs split among the ``local_world_size``
    processes of this node (default: torchrun's ``LOCAL_WORLD_SIZE``, else 1), one CPU left to the
    process itself, at most :data:`MAX_AUTO_WORKERS`; 0 (load in the main process) on a single CPU."""
    if local_world_size is None:
        local_world_size = torchrun_local_world_size()
    per_process = available_cores() // max(1, local_world_size)
    return max(0, min(per_process - 1, MAX_AUTO_WORKERS))


def resolve_num_workers(num_workers: int | str | None, local_world_size: int | None = None) -> int:
    """``num_workers`` as a count: ``None`` or ``"auto"`` -> :func:`default_num_workers`; UserError if < 0."""
    if num_workers is None or num_workers == "auto":
        return default_num_workers(local_world_size)
    text = str(num_workers)
    if isinstance(num_workers, bool) or not text.isdigit():
        raise UserError(f"num_workers must be a count >= 0 or auto, got {num_workers!r}")
    return int(text)


def build_train_loader(dataset: Dataset, *, batch_size: int, seed: int, dist: DistInfo | None = None,
                       num_workers: int | str | None = 2, device: torch.device | str = "cpu",
                       drop_last: bool = True, collate_fn: Callable | None = None) -> DataLoader:
    """Shuffled, seeded, per-rank DataLoader of ``batch_size`` samples (per device) for :func:`fit`.

    ``num_workers``: a count, or ``None`` / ``"auto"`` for :func:`default_num_workers`. Workers persist
    across epochs. ``collate_fn``: the DataLoader's (default: stack tensors).
    """
    dist = dist or DistInfo()
    workers = resolve_num_workers(num_workers)
    sampler = ResumableSampler(dataset, num_replicas=dist.world_size, rank=dist.rank, seed=seed,
                               drop_last=drop_last)
    return DataLoader(
        SeededDataset(dataset, seed), batch_size=batch_size, sampler=sampler, num_workers=workers,
        pin_memory=torch.device(device).type == "cuda", drop_last=drop_last, collate_fn=collate_fn,
        persistent_workers=workers > 0, generator=torch.Generator().manual_seed(seed),
    )


def build_eval_loader(dataset: Dataset, *, batch_size: int, num_workers: int | str | None = None,
                      device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1) -> DataLoader:
    """In-order loader over this rank's shard (samples ``rank, rank + world_size, ...``) for validation
    and feature extraction: no shuffling, no augmentation RNG drawn from the caller (own generator),
    ``num_workers`` as in :func:`build_train_loader` (default auto)."""
    n = len(dataset)  # type: ignore[arg-type]
    shard = Subset(dataset, list(range(rank, n, world_size))) if world_size > 1 else dataset
    workers = resolve_num_workers(num_workers)
    return DataLoader(shard, batch_size=batch_size, shuffle=False, num_workers=workers,
                      pin_memory=torch.device(device).type == "cuda", generator=torch.Generator())
