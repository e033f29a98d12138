"""``colormae data shard``: write an image folder or a built-in data set as WebDataset tar shards.

Each split (``train`` / ``val`` when the folder has them, else one ``train``) is shuffled once with the
seed, cut into shards of about ``shard_size`` bytes (or ``per_shard`` samples) and written with
``webdataset.TarWriter``: per sample ``<key>.<ext>`` (the file's bytes as they are: ``.jpg``, ``.png``,
``.tif``, ``.npy``, ...; built-in sets as PNG), ``<key>.cls`` (the class index) and ``<key>.json``
(``{"path", "label", "class"}``). Next to each shard goes its member table (``.idx.npy``, see
:func:`colormae.data.shards.member_table`) and, once all are written, the index :data:`INDEX_FILE` (shard
names and sample counts per split, classes, channels, bit depth, the folder's statistics when it has a
``colormae_stats.json``, which is copied along so ``normalize=dataset`` finds it).

A shard is written to a temporary file and renamed (atomic); a rerun of the same command skips the
shards already there, and a rerun with other settings into the same folder is refused.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colormae.data.build import BUILTIN, check_same_classes
from colormae.data.folder import SafeImageFolder
from colormae.data.shards import FORMAT, INDEX_FILE, needs_webdataset, scan_members, table_path
from colormae.data.stats import STATS_FILE, find_stats_file, read_stats
from colormae.errors import UserError
from colormae.files import atomic_write, atomic_write_text
from colormae.progress import progress

#: Bytes a sample costs in a tar beyond its image's padded size: its header, and the ``.cls`` and
#: ``.json`` members (a header and one 512-byte block each).
SAMPLE_OVERHEAD = 512 + 2 * 1024
#: A tar ends with two zero blocks, padded to a whole record of 20 blocks.
TAR_END, TAR_RECORD = 1024, 10240
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(text: str) -> int:
    """``"1GB"`` -> 10**9 bytes (k/M/G/T decimal, KiB/MiB/GiB binary); one UserError line otherwise."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS or float(match.group(1)) <= 0:
        raise UserError(f"--shard-size {text!r}: give a size such as 1GB, 500MB or 256MiB")
    return int(float(match.group(1)) * _UNITS[unit])


@dataclass
class Split:
    """One split to write: ``count`` samples; ``item(i) -> (bytes, ending without dot, label, name)``,
    ``size(i)``: its bytes (for cutting shards by size)."""

    name: str
    count: int
    item: Callable[[int], tuple[bytes, str, int, str]]
    size: Callable[[int], int]


def _folder_split(name: str, folder: SafeImageFolder) -> Split:
    root = Path(folder.root)

    def item(i: int) -> tuple[bytes, str, int, str]:
        path, label = folder.samples[i]
        ext = Path(path).suffix.lower().lstrip(".")
        return Path(path).read_bytes(), ext, int(label), str(Path(path).relative_to(root))

    return Split(name, len(folder.samples), item, lambda i: Path(folder.samples[i][0]).stat().st_size)


def _builtin_split(name: str, dataset: Any) -> Split:
    def item(i: int) -> tuple[bytes, str, int, str]:
        image, label = dataset[i]
        buffer = io.BytesIO()
        if hasattr(image, "save"):
            image.save(buffer, format="PNG")
            return buffer.getvalue(), "png", int(label), f"{i}.png"
        np.save(buffer, np.asarray(image), allow_pickle=False)
        return buffer.getvalue(), "npy", int(label), f"{i}.npy"

    return Split(name, len(dataset), item, lambda i: len(item(i)[0]))


def _identity(image: Any) -> Any:
    return image


def sources(src: str) -> tuple[list[Split], dict[str, Any]]:
    """The splits of ``src`` and what the index records of it (classes, channels, dtype, stats)."""
    if src in BUILTIN:
        sets = {s: BUILTIN[src](split=s, transform=_identity) for s in ("train", "val")}
        first = sets["train"][0][0]
        channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}.get(getattr(first, "mode", ""), 3)
        meta = {"classes": [str(c) for c in sets["train"].classes], "channels": channels, "dtype": "uint8"}
        return [_builtin_split(s, d) for s, d in sets.items()], {**meta, "stats": None}
    root = Path(src).expanduser()
    if not root.is_dir():
        raise UserError(f"{src} is neither a built-in data set ({', '.join(BUILTIN)}) nor a folder")
    check_same_classes(root)
    names = [s for s in ("train", "val") if (root / s).is_dir()] or [""]
    folders = {s or "train": SafeImageFolder(root / s) for s in names}
    train = folders["train"]
    stats_file = find_stats_file(root / names[0]) or find_stats_file(root)
    meta = {"classes": list(train.classes), "channels": train.native_channels, "dtype": train.dtype,
            "stats": read_stats(stats_file) if stats_file else None}
    return [_folder_split(s, f) for s, f in folders.items()], meta


def plan(split: Split, order: np.ndarray, *, shard_size: int | None,
         per_shard: int | None) -> list[np.ndarray]:
    """``order`` cut into shards: ``per_shard`` samples each, or as many as fit in ``shard_size`` bytes
    (at least one; the file may be up to one tar record, 10240 bytes, longer)."""
    if per_shard:
        return [order[k:k + per_shard] for k in range(0, len(order), per_shard)]
    limit = (shard_size or 10**9) - TAR_END
    shards, current, used = [], [], 0
    for i in order.tolist():
        cost = -(-split.size(i) // 512) * 512 + SAMPLE_OVERHEAD
        if current and used + cost > limit:
            shards.append(np.array(current, dtype=np.int64))
            current, used = [], 0
        current.append(i)
        used += cost
    if current:
        shards.append(np.array(current, dtype=np.int64))
    return shards


def _write_shard(path: Path, split: Split, members: np.ndarray, first: int, classes: list[str],
                 bar: Any) -> None:
    wds = needs_webdataset()

    def write(fh) -> None:
        with wds.TarWriter(fh, mtime=0) as sink:  # fixed mtime: the same shard bytes on every rerun
            for k, i in enumerate(members.tolist()):
                data, ext, label, name = split.item(i)
                meta = {"path": name, "label": label, "class": classes[label] if label < len(classes) else ""}
                sink.write({"__key__": f"{first + k:09d}", ext: data, "cls": str(label),
                            "json": json.dumps(meta)})
                bar.update(1)

    atomic_write(path, write)


def _check_rerun(out: Path, settings: dict[str, Any]) -> None:
    path = out / INDEX_FILE
    if not path.is_file():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8")).get("settings")
    except (OSError, ValueError, AttributeError):
        old = None
    if old != settings:
        raise UserError(f"{out} holds shards written with other settings ({path}); write to another "
                        "folder or delete it")


def write_shards(src: str, out: str | Path, *, shard_size: int | None = None, per_shard: int | None = None,
                 seed: int = 0, show_progress: bool = True) -> dict[str, Any]:
    """Write ``src`` (folder or built-in name) as shards into ``out`` (module docstring); the index."""
    needs_webdataset()
    if per_shard is not None and per_shard < 1:
        raise UserError(f"--per-shard must be positive, got {per_shard}")
    splits, meta = sources(src)
    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    settings = {"source": str(Path(src).expanduser().resolve()) if src not in BUILTIN else src, "seed": seed,
                "shard_size": None if per_shard else shard_size or 10**9, "per_shard": per_shard,
                "samples": {s.name: s.count for s in splits}}
    _check_rerun(out, settings)
    index = {"format": FORMAT, "complete": False, "settings": settings, **meta, "splits": {}}
    planned = []
    for k, split in enumerate(splits):
        order = np.random.default_rng([seed, k]).permutation(split.count)
        shards = plan(split, order, shard_size=settings["shard_size"], per_shard=per_shard)
        names = [f"{split.name}-{j:06d}.tar" for j in range(len(shards))]
        index["splits"][split.name] = {"samples": split.count, "shards": [
            {"name": n, "samples": len(m)} for n, m in zip(names, shards, strict=True)]}
        planned += [(split, n, m) for n, m in zip(names, shards, strict=True)]
    atomic_write_text(out / INDEX_FILE, json.dumps(index, indent=1) + "\n")
    bar = progress(total=sum(s.count for s in splits), desc=f"shards of {src}", unit="img",
                   enabled=show_progress)
    first = {s.name: 0 for s in splits}
    for split, name, members in planned:
        path = out / name
        if path.is_file():  # finished by an earlier run
            bar.update(len(members))
        else:
            _write_shard(path, split, members, first[split.name], meta["classes"], bar)
        if not table_path(path).is_file() or table_path(path).stat().st_mtime < path.stat().st_mtime:
            table = scan_members(path)
            atomic_write(table_path(path), lambda fh, t=table: np.save(fh, t, allow_pickle=False))
        first[split.name] += len(members)
    bar.close()
    if meta["stats"] is not None:
        atomic_write_text(out / STATS_FILE, json.dumps(meta["stats"], indent=2) + "\n")
    index["complete"] = True
    atomic_write_text(out / INDEX_FILE, json.dumps(index, indent=1) + "\n")
    return index
