"""Per-channel mean and std of a data set in one pass (``colormae data stats DIR``), and its stats file.

Pixels are read as the model gets them before normalisation: scaled to [0, 1] by their bit depth and
brought to the model's channel count, at their stored size (no crop or resize), so every pixel of every
image counts once. Each image's mean and sum of squared deviations are merged into the running totals
(Chan et al.'s parallel variance update) in float64: one pass, no catastrophic cancellation. The std is
the population std (numpy's default ``ddof=0``). Large folders are sampled: ``max_images`` images evenly
spaced over the (class-sorted) file list, so every class contributes.

The result is written as ``DIR/colormae_stats.json`` (:data:`STATS_FILE`), where ``normalize=dataset``
finds it (for a ``DIR/train`` split, in ``DIR`` too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from colormae.data.subset import subset
from colormae.errors import UserError
from colormae.progress import progress as progress_bar

STATS_FILE = "colormae_stats.json"
FORMAT = "colormae-stats/1"
#: Default cap on the images read for the statistics (``data stats --max-images``).
MAX_IMAGES = 10_000


@dataclass(frozen=True)
class ChannelStats:
    """Per-channel ``mean`` and ``std`` over ``pixels`` pixels of ``images`` of ``total`` images."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    images: int
    total: int
    pixels: int
    channels: int
    dtype: str | None = None

    @property
    def sampled(self) -> bool:
        """Whether only part of the data set was read."""
        return self.images < self.total

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "channels": self.channels, "mean": list(self.mean), "std": list(self.std),
                "images": self.images, "total_images": self.total, "pixels": self.pixels,
                "sampled": self.sampled, "dtype": self.dtype}


def _first(sample: Any) -> Any:
    return sample[0] if isinstance(sample, tuple | list) else sample


def channel_stats(dataset: Dataset, *, max_images: int | None = MAX_IMAGES, num_workers: int = 0,
                  progress: bool = True, desc: str = "stats") -> ChannelStats:
    """Mean and std per channel of every pixel of ``dataset`` (items ``(C, H, W)`` float tensors, or
    ``(image, label)``); with more than ``max_images`` items, an evenly spaced sample of that many."""
    total = len(dataset)  # type: ignore[arg-type]
    if total == 0:
        raise UserError("the data set is empty")
    if max_images is not None:
        dataset = subset(dataset, max_images)
    n_images = len(dataset)  # type: ignore[arg-type]
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=num_workers)
    count, mean, m2 = 0, None, None
    channels = None
    for sample in progress_bar(loader, total=n_images, desc=desc, enabled=progress, leave=False,
                               unit="img"):
        x = _first(sample).to(torch.float64)
        if x.ndim != 3:
            raise UserError(f"expected (C, H, W) images, got shape {tuple(x.shape)}")
        if channels is None:
            channels = x.shape[0]
            mean, m2 = torch.zeros(channels, dtype=torch.float64), torch.zeros(channels, dtype=torch.float64)
        flat = x.reshape(channels, -1)
        n = flat.shape[1]
        m = flat.mean(dim=1)
        s = ((flat - m[:, None]) ** 2).sum(dim=1)
        delta = m - mean
        total_n = count + n
        mean = mean + delta * (n / total_n)
        m2 = m2 + s + delta**2 * (count * n / total_n)
        count = total_n
    std = (m2 / count).sqrt()
    return ChannelStats(tuple(mean.tolist()), tuple(std.tolist()), n_images, total, count, int(channels))


def data_folder(data: str | Path) -> Path:
    """The folder a data set's stats file belongs in: the folder itself (image folder, shard folder), a
    Hugging Face data set's folder for ``hf:PATH[?options]`` (a parquet file's folder)."""
    text = str(data)
    if text.startswith("hf:"):
        path = Path(text[3:].partition("?")[0]).expanduser()
        return path.parent if path.is_file() else path
    return Path(text).expanduser()


def stats_path(data: str | Path) -> Path:
    """Where the stats file of a data folder is written: ``DIR/colormae_stats.json``."""
    return data_folder(data) / STATS_FILE


def find_stats_file(data: str | Path) -> Path | None:
    """The stats file of ``data``: in the folder itself, else in its parent when it is a train/val split."""
    root = data_folder(data)
    for folder in (root, root.parent) if root.name in ("train", "val") else (root,):
        if (folder / STATS_FILE).is_file():
            return folder / STATS_FILE
    return None


def write_stats(stats: ChannelStats, data: str | Path) -> Path:
    """Write ``stats`` to :func:`stats_path` of ``data``; returns the path."""
    path = stats_path(data)
    try:
        path.write_text(json.dumps(stats.to_dict(), indent=2) + "\n", encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot write {path}: {err.strerror or err}") from None
    return path


def read_stats(path: str | Path) -> dict[str, Any]:
    """A stats file as a dict (``channels``, ``mean``, ``std``, ...); one clear line if it is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: not a readable colormae stats file ({err})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or "mean" not in data or "std" not in data:
        raise UserError(f"{path}: not a colormae stats file (write one with `colormae data stats DIR`)")
    return data
