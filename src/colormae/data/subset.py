"""Evenly spaced parts of a data set: probes, statistics, figures and label-efficiency runs take the same
images every time, and a class-sorted set keeps every class."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset, Subset


def evenly_spaced(length: int, count: int) -> list[int]:
    """``min(count, length)`` indices spread evenly over ``range(length)``, first and last included (so a
    class-sorted data set keeps every class in a subset)."""
    return torch.linspace(0, length - 1, min(count, length)).round().long().tolist()


def subset(dataset: Dataset, count: int | None) -> Dataset:
    """The :func:`evenly_spaced` ``count`` items of ``dataset`` (all of it when ``count`` is None or not
    smaller)."""
    if count is None or count >= len(dataset):
        return dataset
    return Subset(dataset, evenly_spaced(len(dataset), count))
