"""WebDataset tar shards as a map-style data set: ``data=DIR`` (a folder written by ``colormae data shard``,
holding :data:`INDEX_FILE`) or ``data=shards/train-{000000..000127}.tar`` (any WebDataset shards).

Design (why map-style): a sample is addressed by ``(shard, member)``, flattened to one index in shard
order, and read by one ``pread`` at its byte offset in the tar. That makes the shards a map-style data
set, so pretraining takes the loader every folder takes (:mod:`colormae.train.loader`): the order is a
seeded permutation of ``(seed, epoch)`` over all samples, every rank gets exactly ``len // world_size``
of them (so every rank runs the same number of steps, however unevenly the samples fall into shards),
any worker count reads the same samples, and a resumed run skips the consumed ones exactly, without
reading them. An iterable (streaming) reader would need a per-epoch shard permutation, padding of short
ranks and a read-and-discard skip-ahead to get the same guarantees; random access into tar files that
stay open is cheap on local and parallel file systems (the cost this replaces is one ``open`` per small
file), and ``colormae data shard`` shuffles the data once so a shard is no class-sorted run.

WebDataset (the ``webdataset`` package) reads tar files only as streams; random access needs each
member's offset, which the standard library's :mod:`tarfile` gives (``TarInfo.offset_data``, PAX and GNU
long names included), so nothing here parses tar headers by hand. Members are grouped into samples by
WebDataset's own rule (:func:`webdataset.tariterators.base_plus_ext`: key = path up to the first dot of
the file name); the image is the member with an image ending, the label the ``.cls`` member (0 without
one). ``colormae data shard`` stores each shard's member table next to it (``<shard>.idx.npy``, see
:func:`member_table`), so opening a data set reads no tar header; other shards are scanned once when the
data set is built.
"""

from __future__ import annotations

import json
import os
import tarfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from colormae.data.encoded import EncodedImages
from colormae.data.readers import EXTENSIONS, UnreadableImage, channels_of, read_image_bytes
from colormae.errors import UserError

INDEX_FILE = "colormae_shards.json"
FORMAT = "colormae-shards/1"
#: Image file endings a shard member may have (the folder readers' list), coded by position in tables.
IMAGE_EXTS: tuple[str, ...] = tuple(sorted({e.lstrip(".").lower() for e in EXTENSIONS}))
#: Open shard files per process (least recently used ones are closed beyond this).
OPEN_SHARDS = 64


def needs_webdataset() -> Any:
    """The ``webdataset`` module, or one UserError line saying how to install it."""
    try:
        import webdataset
    except ImportError:
        raise UserError('reading and writing tar shards needs webdataset: '
                        'pip install "colormae[shards]"') from None
    return webdataset


def is_shards(name: str | Path) -> bool:
    """Whether ``data=name`` names tar shards: a ``.tar`` path or brace pattern, or a folder holding
    :data:`INDEX_FILE`."""
    text = str(name)
    if text.endswith(".tar") or ("{" in text and ".tar" in text):
        return True
    return (Path(text).expanduser() / INDEX_FILE).is_file()


def read_index(root: str | Path) -> dict[str, Any]:
    """The index of a shard folder; one UserError line if it is missing, broken or unfinished."""
    path = Path(root).expanduser() / INDEX_FILE
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: not a readable shard index ({err}); "
                        "write one with `colormae data shard`") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise UserError(f"{path}: not a colormae shard index (write one with `colormae data shard`)")
    if not index.get("complete"):
        raise UserError(f"{path}: the shards are unfinished; rerun the same `colormae data shard` command "
                        "(finished shards are kept)")
    return index


def table_path(shard: str | Path) -> Path:
    """Where a shard's member table is kept: ``train-000000.tar`` -> ``train-000000.idx.npy``."""
    shard = Path(shard)
    return shard.with_name(shard.name.removesuffix(".tar") + ".idx.npy")


def scan_members(shard: str | Path) -> np.ndarray:
    """A shard's samples in tar order as an int64 table ``(N, 4)``: image data offset, image size, code
    of the image ending (index into :data:`IMAGE_EXTS`), label (from ``.cls``; 0 without). Samples
    without an image member are left out."""
    needs_webdataset()
    from webdataset.tariterators import base_plus_ext

    rows: OrderedDict[str, list[int]] = OrderedDict()
    try:
        with tarfile.open(shard, mode="r:") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                key, ext = base_plus_ext(member.name)
                if key is None:
                    continue
                row = rows.setdefault(key, [-1, 0, 0, 0])
                ext = ext.lower()
                if ext in IMAGE_EXTS and row[0] < 0:
                    row[:3] = [member.offset_data, member.size, IMAGE_EXTS.index(ext)]
                elif ext == "cls":
                    row[3] = int(tar.extractfile(member).read().decode().strip())  # type: ignore[union-attr]
    except (OSError, tarfile.TarError, ValueError) as err:
        raise UserError(f"{shard}: not a readable tar shard ({err})") from None
    table = np.array([r for r in rows.values() if r[0] >= 0], dtype=np.int64).reshape(-1, 4)
    return table


def member_table(shard: str | Path) -> np.ndarray:
    """:func:`scan_members` of ``shard``, from its ``.idx.npy`` file when that is at least as new."""
    side = table_path(shard)
    try:
        if side.is_file() and side.stat().st_mtime >= Path(shard).stat().st_mtime:
            return np.load(side, allow_pickle=False)
    except (OSError, ValueError):
        pass
    return scan_members(shard)


def _expand(pattern: str) -> list[Path]:
    needs_webdataset()
    from webdataset.shardlists import expand_urls

    paths = [Path(p).expanduser() for p in expand_urls(pattern)]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"data={pattern}: {len(missing)} of {len(paths)} shard(s) do not exist "
                        f"(first: {missing[0]})")
    return paths


def _split_entry(index: dict[str, Any], split: str, root: Path) -> dict[str, Any]:
    splits = index["splits"]
    if split in splits:
        return splits[split]
    if len(splits) == 1:  # as a folder without train/ and val/: one set of images for both
        return next(iter(splits.values()))
    raise UserError(f"{root}: no {split!r} shards (it has {', '.join(splits)})")


class ShardDataset(EncodedImages):
    """``(transform(image), label)`` of the samples of tar shards, in shard order (module docstring).

    Args:
        paths: the shard files.
        classes, native_channels, dtype: from the index (or found from the shards).
        tables: the shards' member tables (default :func:`member_table` of each).
    """

    def __init__(self, paths: list[Path], classes: list[str] | None = None,
                 native_channels: int | None = None, dtype: str | None = None, *,
                 channels: int | None = None, transform=None, name: str = "",
                 tables: list[np.ndarray] | None = None) -> None:
        tables = tables if tables is not None else [member_table(p) for p in paths]
        self.paths = [str(p) for p in paths]
        self.shard_of = np.concatenate([np.full(len(t), k, dtype=np.int32) for k, t in enumerate(tables)])
        self.table = np.concatenate(tables) if tables else np.zeros((0, 4), np.int64)
        self._fds: OrderedDict[int, int] = OrderedDict()
        self._pid = os.getpid()
        if classes is None:
            classes = [str(k) for k in range(int(self.table[:, 3].max(initial=0)) + 1)]
        if native_channels is None and len(self.table):
            image = read_image_bytes(*self._bytes(0))
            native_channels, dtype = channels_of(image), "uint8" if not hasattr(image, "shape") else "float32"
        super().__init__(len(self.table), classes, native_channels or 3, dtype, channels=channels,
                         transform=transform, name=name or (self.paths[0] if self.paths else "shards"))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fds"] = OrderedDict()  # file descriptors do not travel to spawned workers
        return state

    def _fd(self, shard: int) -> int:
        if self._pid != os.getpid():  # a forked worker: open its own files
            self._fds, self._pid = OrderedDict(), os.getpid()
        fd = self._fds.pop(shard, None)
        if fd is None:
            fd = os.open(self.paths[shard], os.O_RDONLY)
            while len(self._fds) >= OPEN_SHARDS:
                os.close(self._fds.popitem(last=False)[1])
        self._fds[shard] = fd
        return fd

    def _bytes(self, index: int) -> tuple[bytes, str]:
        offset, size, ext, _ = (int(v) for v in self.table[index])
        data = os.pread(self._fd(int(self.shard_of[index])), size, offset)
        if len(data) != size:
            raise UnreadableImage(f"{self.describe(index)}: truncated ({len(data)} of {size} bytes)")
        return data, "." + IMAGE_EXTS[ext]

    def raw(self, index: int) -> tuple[bytes, str, int]:
        data, suffix = self._bytes(index)
        return data, suffix, int(self.table[index, 3])

    def label(self, index: int) -> int:
        return int(self.table[index, 3])

    @property
    def targets(self) -> list[int]:
        return self.table[:, 3].tolist()

    def describe(self, index: int) -> str:
        return f"{self.paths[int(self.shard_of[index])]} (sample at byte {int(self.table[index, 0])})"


def open_shards(name: str | Path, *, split: str = "train", channels: int | None = None,
                transform=None) -> ShardDataset:
    """The :class:`ShardDataset` of ``data=name`` (a shard folder, a ``.tar`` path or a brace pattern);
    a folder's ``split`` shards (its only split when it has one)."""
    text = str(name)
    if not Path(text).expanduser().is_dir():
        paths = _expand(text)
        folder = paths[0].parent
        index = read_index(folder) if (folder / INDEX_FILE).is_file() else None
        meta = (index["classes"], index["channels"], index.get("dtype")) if index else (None, None, None)
        return ShardDataset(paths, *meta, channels=channels, transform=transform, name=text)
    root = Path(text).expanduser()
    index = read_index(root)
    entry = _split_entry(index, split, root)
    paths = [root / s["name"] for s in entry["shards"]]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"{root}: shard {missing[0].name} listed in {INDEX_FILE} is missing")
    return ShardDataset(paths, index["classes"], index["channels"], index.get("dtype"), channels=channels,
                        transform=transform, name=f"{root} ({split})")
