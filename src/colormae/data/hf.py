"""Hugging Face ``datasets`` on disk as a data set: ``data=hf:PATH``; nothing is downloaded.

``PATH`` is a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``, a ``.parquet``
file, or a folder of parquet files (the Hub layout ``data/train-00000-of-00004.parquet`` included: a file
belongs to the split its name or its folder starts with). Splits: ``train``; ``val`` is ``val``,
``validation``, ``valid`` or ``test``, in that order; a data set with a single split gives it for both,
as a folder without ``train/`` and ``val/`` does.

The image column is the one of feature type ``datasets.Image`` (else one named ``image``, ``img``,
``jpg`` or ``png`` holding bytes); the label column the one of type ``ClassLabel`` (its names are the
classes), else ``label`` / ``labels`` / ``fine_label`` / ``cls`` / ``target``; without one every image
is class 0. Name them when not obvious: ``data=hf:PATH?image_column=img&label_column=fine_label``.

Images are read undecoded (``Image(decode=False)``: the file bytes) and decoded by the folder readers
(:class:`colormae.data.encoded.EncodedImages`), so skip-and-count, 16-bit and multi-band images, exact
resume and the GPU decode path work as for folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np

from colormae.data.encoded import EncodedImages
from colormae.data.readers import channels_of, read_image_bytes, sniff_suffix
from colormae.errors import UserError

PREFIX = "hf:"
SPLITS = {"train": ("train",), "val": ("val", "validation", "valid", "test")}
IMAGE_NAMES = ("image", "img", "jpg", "png")
LABEL_NAMES = ("label", "labels", "fine_label", "cls", "target")
OPTIONS = ("image_column", "label_column")


def is_hf(name: object) -> bool:
    """Whether ``data=name`` names a Hugging Face data set on disk (``hf:PATH``)."""
    return str(name).startswith(PREFIX)


def parse(name: str) -> tuple[Path, dict[str, str]]:
    """``"hf:PATH?image_column=a&label_column=b"`` -> ``(PATH, {"image_column": "a", ...})``."""
    text = str(name)[len(PREFIX):]
    path, _, query = text.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise UserError(f"data={name}: unknown option {unknown[0]!r} (use {' / '.join(OPTIONS)})")
    if not path:
        raise UserError(f"data={name}: give the folder or parquet file after hf:")
    return Path(path).expanduser(), options


def needs_datasets() -> Any:
    """The ``datasets`` module (quiet: no progress bars), or one UserError line saying how to install it."""
    try:
        import datasets
    except ImportError:
        raise UserError('data=hf:... needs datasets: pip install "colormae[hf]"') from None
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets


def _pick(splits: dict[str, Any], split: str, where: object) -> Any:
    for name in SPLITS.get(split, (split,)):
        if name in splits:
            return splits[name]
    if len(splits) == 1:
        return next(iter(splits.values()))
    raise UserError(f"{where}: no {split!r} split (it has {', '.join(sorted(splits))})")


def _parquet_splits(path: Path) -> dict[str, list[str]]:
    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    if not files:
        raise UserError(f"hf:{path}: neither a save_to_disk folder nor parquet file(s)")
    groups: dict[str, list[str]] = {}
    for f in files:
        rel = f.relative_to(path).parts if path.is_dir() else (f.name,)
        named = next((s for part in rel for s in (*SPLITS["train"], *SPLITS["val"])
                      if part.lower().startswith(s)), None)
        groups.setdefault(named or "train", []).append(str(f))
    return groups


def load_split(path: Path, split: str) -> Any:
    """The ``datasets.Dataset`` of ``split`` at ``path`` (module docstring)."""
    datasets = needs_datasets()
    if not path.exists():
        raise UserError(f"hf:{path} does not exist")
    if path.is_dir() and any((path / f).is_file() for f in ("dataset_dict.json", "state.json")):
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            return _pick(dict(loaded), split, f"hf:{path}")
        return loaded
    files = _pick(_parquet_splits(path), split, f"hf:{path}")
    return datasets.Dataset.from_parquet(files)


def _column(ds: Any, given: str | None, kinds: tuple[type, ...], names: tuple[str, ...],
            what: str) -> str | None:
    if given:
        if given not in ds.column_names:
            raise UserError(f"{what}={given!r}: no such column (columns: {', '.join(ds.column_names)})")
        return given
    typed = [c for c, f in ds.features.items() if isinstance(f, kinds)]
    return typed[0] if typed else next((c for c in names if c in ds.column_names), None)


class HFImages(EncodedImages):
    """``(transform(image), label)`` of a Hugging Face data set's rows (module docstring)."""

    def __init__(self, name: str, *, split: str = "train", channels: int | None = None,
                 transform=None) -> None:
        datasets = needs_datasets()
        path, options = parse(name)
        ds = load_split(path, split)
        image = _column(ds, options.get("image_column"), (datasets.Image,), IMAGE_NAMES, "image_column")
        if image is None:
            raise UserError(f"data={name}: no image column (columns: {', '.join(ds.column_names)}); "
                            "name it: data=hf:PATH?image_column=NAME")
        label = _column(ds, options.get("label_column"), (datasets.ClassLabel,), LABEL_NAMES, "label_column")
        if isinstance(ds.features[image], datasets.Image):
            ds = ds.cast_column(image, datasets.Image(decode=False))
        self.rows = ds.select_columns([image])
        self.image_column = image
        self.labels = np.asarray(ds[label] if label else np.zeros(len(ds)), dtype=np.int64)
        feature = ds.features.get(label) if label else None
        classes = (list(feature.names) if isinstance(feature, datasets.ClassLabel)
                   else [str(k) for k in range(int(self.labels.max(initial=0)) + 1)])
        self.name = name
        first = read_image_bytes(*self._bytes(0)) if len(ds) else None
        native = channels_of(first) if first is not None else 3
        dtype = "float32" if hasattr(first, "shape") else "uint8"
        super().__init__(len(ds), classes, native, dtype, channels=channels, transform=transform,
                         name=f"{name} ({split})")

    def _bytes(self, index: int) -> tuple[bytes, str]:
        cell = self.rows[int(index)][self.image_column]
        if isinstance(cell, dict):
            data, path = cell.get("bytes"), cell.get("path")
            if data is None and path:
                data = Path(path).read_bytes()
            suffix = Path(path).suffix.lower() if path and Path(path).suffix else None
        else:
            data, suffix = cell, None
        if not isinstance(data, bytes | bytearray | memoryview):
            raise UserError(f"{self.name}: column {self.image_column!r} holds no image bytes")
        data = bytes(data)
        return data, suffix or sniff_suffix(data)

    def raw(self, index: int) -> tuple[bytes, str, int]:
        data, suffix = self._bytes(index)
        return data, suffix, int(self.labels[index])

    def label(self, index: int) -> int:
        return int(self.labels[index])

    @property
    def targets(self) -> list[int]:
        return self.labels.tolist()

    def describe(self, index: int) -> str:
        return f"{self.name} row {index}"


def split_names(name: str) -> list[str]:
    """The splits ``hf:PATH`` has, as colormae names them (``train``, ``val``)."""
    path, _ = parse(name)
    datasets = needs_datasets()
    if path.is_dir() and (path / "dataset_dict.json").is_file():
        have = set(dict(datasets.load_from_disk(str(path))))
    elif path.is_dir() and (path / "state.json").is_file():
        return ["train"]
    else:
        have = set(_parquet_splits(path)) if path.exists() else set()
    return [s for s, names in SPLITS.items() if have & set(names)]
