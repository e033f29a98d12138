"""Per-channel mean and std of a data set in one pass (``colormae data stats DIR``), and its stats file.

Pixels are read as the model gets them before normalisation: scaled to [0, 1] by their bit depth and
brought to the model's channel count, at their stored size (no crop or resize), so every pixel of every
image counts once. Each image's mean and sum of squared deviations are merged into the running totals
(Chan et al.'s parallel variance update) in float64: one pass, no catastrophic cancellation. The std is
the population std (numpy's default ``ddof=0``). Large folders are sampled: ``max_images`` images evenly
spaced over the (class-sorted) file list, so every class contributes.

The result is written as ``DIR/colormae_stats.json`` (:data:`STATS_FILE`), where ``normalize=dataset``
finds it (for a ``DIR/train`` split, in ``DIR`` too); a read-only ``DIR`` gets a per-user file in
``~/.cache/colormae/stats`` instead (:func:`cache_path`), found the same way; ``data stats -o FILE`` writes
anywhere, and ``stats_file=FILE`` points a job at it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from colormae.data.subset import subset
from colormae.errors import UserError
from colormae.files import WriteFailed, atomic_write_text
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
    unreadable: int = 0  #: files of the data set that could not be read (not counted in ``images``)

    @property
    def sampled(self) -> bool:
        """Whether only part of the data set was read."""
        return self.images + self.unreadable < self.total

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "channels": self.channels, "mean": list(self.mean), "std": list(self.std),
                "images": self.images, "total_images": self.total, "pixels": self.pixels,
                "sampled": self.sampled, "dtype": self.dtype, "unreadable_images": self.unreadable}


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


def cache_path(data: str | Path) -> Path:
    """The per-user stats file of a data folder that cannot hold its own (a read-only, shared data set):
    ``$XDG_CACHE_HOME/colormae/stats/NAME-HASH.json`` (default ``~/.cache``), keyed by the folder's
    absolute path."""
    folder = Path(data).expanduser().absolute()
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha1(str(folder).encode()).hexdigest()[:12]
    return root / "colormae" / "stats" / f"{folder.name or 'root'}-{key}.json"


def find_stats_file(data: str | Path) -> Path | None:
    """The stats file of ``data``: in the folder itself, else in its parent when it is a train/val split,
    else in the per-user cache (:func:`cache_path`)."""
    root = data_folder(data)
    folders = (root, root.parent) if root.name in ("train", "val") else (root,)
    for candidate in [folder / STATS_FILE for folder in folders] + [cache_path(f) for f in folders]:
        if candidate.is_file():
            return candidate
    return None


def write_stats(stats: ChannelStats, data: str | Path, *, out: str | Path | None = None,
                channel_names: list[str] | None = None) -> Path:
    """Write ``stats`` to ``out``, else :func:`stats_path` of ``data`` or, when that folder is read-only
    or not ours, :func:`cache_path`; returns the path. A full disk is one :class:`WriteFailed` line."""
    text = json.dumps({**stats.to_dict(), "channel_names": channel_names}, indent=2) + "\n"
    if out is not None:
        return atomic_write_text(Path(out).expanduser(), text)
    try:
        return atomic_write_text(stats_path(data), text)
    except WriteFailed as err:
        if err.code not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
    return atomic_write_text(cache_path(data), text)


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
