"""The normalisation a job uses for a data set (``normalize=auto|imagenet|dataset|none``) and the
statistics of a built-in set or folder computed on the spot; above :mod:`colormae.data.build` (it reads
data sets) and :mod:`colormae.data.stats` (it reads stats files)."""

from __future__ import annotations

from pathlib import Path

from colormae.data.build import build_dataset, is_builtin
from colormae.data.folder import skipped_total
from colormae.data.normalization import NORMALIZE, Normalization, identity, imagenet
from colormae.data.stats import (
    MAX_IMAGES,
    STATS_FILE,
    ChannelStats,
    channel_stats,
    find_stats_file,
    read_stats,
)
from colormae.data.transforms import tensor_transform
from colormae.errors import UserError


def resolve_normalization(normalize: str, channels: int, data: str | None = None, *,
                          builtin: bool = False, progress: bool = True,
                          stats_file: str | Path | None = None) -> Normalization:
    """The :class:`Normalization` a job uses for ``channels``-channel images of ``data``.

    Args:
        normalize: ``"auto"``, ``"imagenet"``, ``"dataset"`` or ``"none"`` (module docstring).
        channels: channels the model sees.
        data: the data set (built-in name or folder); needed for ``"dataset"``.
        builtin: ``data`` is a built-in data set (statistics computed on the fly, ``auto`` = imagenet).
        stats_file: the stats file of ``"dataset"`` (``data stats -o FILE``) instead of the data's own.
    """
    if normalize not in NORMALIZE:
        raise UserError(f"normalize={normalize!r}: choose one of {', '.join(NORMALIZE)}")
    if normalize == "auto":
        normalize = "imagenet" if channels == 3 or builtin else "dataset"
    if normalize == "imagenet":
        return imagenet(channels)
    if normalize == "none":
        return identity(channels)
    if data is None:
        raise UserError("normalize=dataset needs a data set")
    return dataset_normalization(data, channels, builtin=builtin, progress=progress, stats_file=stats_file)


def compute_stats(data: str | Path, *, channels: int | None = None, max_images: int | None = MAX_IMAGES,
                  num_workers: int = 0, progress: bool = True) -> ChannelStats:
    """:func:`channel_stats` of a built-in data set or folder (its ``train`` split when it has one), read
    at the data's channel count (or ``channels``)."""
    if is_builtin(data):
        channels = channels or 3
        dataset = build_dataset(data, split="train", transform=tensor_transform(channels))
    else:  # one header scan: the folder gives its channel count, then the transform is set
        dataset = build_dataset(data, split="train", channels=channels)
        channels = dataset.channels
        dataset.transform = tensor_transform(channels)
    stats = channel_stats(dataset, max_images=max_images, num_workers=num_workers, progress=progress,
                          desc=f"stats of {data}")
    dtype = getattr(dataset, "dtype", None)
    scanned = len(getattr(dataset, "bad_files", ()))  # dropped by the header scan: not in len(dataset)
    unreadable = skipped_total(dataset)
    return ChannelStats(stats.mean, stats.std, stats.images - (unreadable - scanned), stats.total + scanned,
                        stats.pixels, stats.channels, dtype, unreadable)


def dataset_normalization(data: str | Path, channels: int, *, builtin: bool = False,
                          progress: bool = True, stats_file: str | Path | None = None):
    """``normalize=dataset``: ``stats_file``, else the stats file of a folder (its own or the per-user
    cache's), or statistics computed now for a built-in set."""
    if stats_file:
        path = Path(stats_file).expanduser()
        if not path.is_file():
            raise UserError(f"stats_file={stats_file}: no such file (write it with `colormae data stats "
                            f"{data} -o {stats_file}`)")
    elif builtin:
        stats = compute_stats(data, channels=channels, max_images=1000, progress=progress)
        return Normalization(stats.mean, stats.std, "dataset", source=f"{data} (computed)")
    else:
        path = find_stats_file(data)
    if path is None:
        raise UserError(f"{data} has no {STATS_FILE}: run `colormae data stats {data}` first (a read-only "
                        "folder's goes to ~/.cache/colormae; or -o FILE and stats_file=FILE; or use "
                        "normalize=imagenet or normalize=none)")
    entry = read_stats(path)
    if int(entry.get("channels", len(entry["mean"]))) != channels:
        raise UserError(f"{path} holds statistics of {entry.get('channels')} channels but the model sees "
                        f"{channels}; rerun `colormae data stats` with in_chans={channels}")
    return Normalization(tuple(entry["mean"]), tuple(entry["std"]), "dataset",
                         tuple(entry["channel_names"]) if entry.get("channel_names") else None,
                         source=str(path))
