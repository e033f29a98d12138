"""A training DataLoader that resumes exactly: same sample order, same augmentations, mid-epoch.

* :class:`ResumableSampler` is a :class:`~torch.utils.data.DistributedSampler` (seeded permutation per
  epoch, sharded by rank) that can start part-way through an epoch, so a resumed run skips the
  samples it already consumed without loading them.
* :class:`SeededDataset` seeds the augmentation RNG from (seed, epoch, index) for every sample, so
  random crops and flips do not depend on worker count, worker seeding or where a run was resumed.
  torchvision transforms draw from the global RNG, so there is no library hook for this: hence by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from colormae.train.distributed import DistInfo
from colormae.train.rng import seeded_rng


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


def build_train_loader(dataset: Dataset, *, batch_size: int, seed: int, dist: DistInfo | None = None,
                       num_workers: int = 2, device: torch.device | str = "cpu",
                       drop_last: bool = True, collate_fn: Any = None) -> DataLoader:
    """Shuffled, seeded, per-rank DataLoader of ``batch_size`` samples (per device) for :func:`fit`.

    ``collate_fn``: how samples become a batch (default: stacked tensors; detection keeps lists)."""
    dist = dist or DistInfo()
    sampler = ResumableSampler(dataset, num_replicas=dist.world_size, rank=dist.rank, seed=seed,
                               drop_last=drop_last)
    return DataLoader(
        SeededDataset(dataset, seed), batch_size=batch_size, sampler=sampler, num_workers=num_workers,
        pin_memory=torch.device(device).type == "cuda", drop_last=drop_last,
        persistent_workers=False, generator=torch.Generator().manual_seed(seed), collate_fn=collate_fn,
    )
