"""Label files: each image's several classes (multi-label) or numbers (regression), for ``labels=FILE``.

The classification jobs read the classes of an ImageFolder from its sub-folders, one class an image. A
label file says more: a chest X-ray with two findings, a satellite patch with five land-cover classes
(BigEarthNet), a field's crop yield. Formats (a CSV's first line is its header):

* **CSV, a list column**: ``path,labels`` where ``labels`` holds class names separated by ``;`` or ``|``
  (``Atelectasis|Effusion``, as ChestX-ray14's ``Finding Labels``); a column named ``labels`` (``label``,
  ``finding labels``) is the list column, other columns are then ignored.
* **CSV, one column per class**: ``path,forest,water,urban`` with 0 / 1 cells (one-hot, as CheXpert).
* **CSV of numbers** (regression): ``path,yield`` (or several target columns); ``task=regression``, or
  ``task=auto`` when some cell is a number other than 0 or 1.
* **JSON**: ``{"a.png": ["cat", "dog"]}`` (multi-label), ``{"a.png": 3.5}`` or ``{"a.png": [3.5, 1.0]}``
  (regression), or a list of objects with a CSV's columns: ``[{"path": "a.png", "labels": ["cat"],
  "split": "val"}]``.

``label_columns`` picks the columns to read (the list column, the class columns or the target columns);
by default a list column when there is one, else every column but the path and the split. The path
column is the one named ``path`` (``image``, ``file``, ``filename``, ``image index``), else the first.
Paths are relative to ``root`` (the ``data`` folder; the label file's folder when ``data`` is not one),
or absolute.

**Splits**: ``labels_val=FILE`` (the first file is then the training split), else a ``split`` column
(``train``; ``val``, ``valid`` or ``validation``; ``test`` rows are left out), else each path's first
folder (``train/...``, ``val/...``).

Every mistake is one :class:`UserError` line naming the file and the line (JSON: the entry): a malformed
row, a path listed twice, a row without labels, a path that is not an image or does not exist, an
unknown class in the validation rows, a class that never appears in the training rows, an empty file.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from colormae.data.readers import EXTENSIONS
from colormae.errors import UserError

TASKS = ("auto", "multilabel", "regression")
PATH_COLUMNS = ("path", "image", "file", "filename", "image index")
LIST_COLUMNS = ("labels", "label", "finding labels")
SPLITS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
_SEPARATORS = re.compile(r"[;|]")


@dataclass(frozen=True)
class LabelSplit:
    """The images of one split: ``paths`` (absolute) and ``targets (N, C)`` float32 (0 / 1 or numbers)."""

    paths: list[Path]
    targets: Tensor


@dataclass(frozen=True)
class LabelTable:
    """What a label file says: ``task`` (``"multilabel"`` or ``"regression"``), ``names`` (classes or
    targets, the ``C`` columns of the targets), the ``train`` and ``val`` splits, the ``source`` file(s)
    and the ``root`` folder its relative paths start from."""

    task: str
    names: list[str]
    train: LabelSplit
    val: LabelSplit
    source: str
    root: Path


@dataclass(frozen=True)
class _Row:
    where: str                      #: "FILE line N" / "FILE entry 'KEY'", for messages
    path: str
    split: str | None               #: "train", "val", None (from the file or the path later)
    values: dict[str, object]       #: column -> cell (a JSON mapping's value: column "labels")


def read_labels(labels: str | Path, labels_val: str | Path | None = None, *, root: str | Path | None = None,
                task: str = "auto", columns: list[str] | None = None) -> LabelTable:
    """Read a label file (and ``labels_val``) into a :class:`LabelTable` (formats: module docstring).

    Args:
        labels: CSV or JSON; with ``labels_val``, the training split alone.
        labels_val: the validation split's file, in any of the formats.
        root: the folder relative paths start from (default: the label file's folder).
        task: ``"auto"`` (multi-label unless a cell is a number other than 0 / 1), ``"multilabel"`` or
            ``"regression"``.
        columns: the label columns to read (default: module docstring).
    """
    if task not in TASKS:
        raise UserError(f"task={task!r}: choose one of {', '.join(TASKS)}")
    files = [Path(labels).expanduser()] + ([Path(labels_val).expanduser()] if labels_val else [])
    base = Path(root).expanduser() if root else files[0].parent
    parsed = [_read_rows(f) for f in files]
    if labels_val:
        parsed = [[_Row(r.where, r.path, split, r.values) for r in rows]
                  for rows, split in zip(parsed, ("train", "val"), strict=True)]
        train = {r.path: r.where for r in parsed[0]}
        both = next((r for r in parsed[1] if r.path in train), None)
        if both is not None:
            raise UserError(f"{both.where}: {both.path} is also a training image ({train[both.path]})")
    rows = [r for rows in parsed for r in rows]
    kind, names, matrix, from_list = _targets(rows, task, columns, files[0])
    splits = _assign_splits(rows, files[0])
    paths = _resolve_paths(rows, splits, base)
    keep = {s: [i for i, r in enumerate(splits) if r == s] for s in ("train", "val")}
    for split, index in keep.items():
        if not index:
            raise UserError(f"{files[-1] if split == 'val' else files[0]}: no {split} rows (splits: "
                            "labels_val=FILE, a split column, or paths under train/ and val/)")
    table = LabelTable(kind, names, *(LabelSplit([paths[i] for i in keep[s]], matrix[keep[s]])
                                      for s in ("train", "val")),
                       source=",".join(str(f) for f in files), root=base)
    if kind == "multilabel":
        _check_classes(table, [rows[i] for i in keep["val"]], from_list)
    return table


def _read_rows(path: Path) -> list[_Row]:
    """The rows of a CSV or JSON label file (a :class:`UserError` for a missing, empty or broken file)."""
    if not path.is_file():
        raise UserError(f"labels={path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte {e.start}); save the label file as UTF-8") from None
    if not text.strip():
        raise UserError(f"{path}: an empty label file (expected a CSV header and rows, or JSON)")
    rows = _json_rows(path, text) if path.suffix.lower() == ".json" else _csv_rows(path, text)
    if not rows:
        raise UserError(f"{path}: no label rows (only a header)")
    seen: dict[str, str] = {}
    for row in rows:
        if row.path in seen:
            raise UserError(f"{row.where}: {row.path} is listed twice (also {seen[row.path]})")
        seen[row.path] = row.where
    return rows


def _csv_rows(path: Path, text: str) -> list[_Row]:
    reader = csv.reader(text.splitlines())
    header = [h.strip() for h in next(reader)]
    lower = [h.lower() for h in header]
    if len(header) < 2 or len(set(lower)) != len(lower) or not all(header):
        raise UserError(f"{path} line 1: the header needs a path column and label columns, each named once "
                        f"(got {','.join(header)})")
    p = next((lower.index(c) for c in PATH_COLUMNS if c in lower), 0)
    s = lower.index("split") if "split" in lower else None
    rows = []
    for n, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise UserError(f"{path} line {n}: {len(cells)} cells, but the header has {len(header)}")
        values = {h: c.strip() for i, (h, c) in enumerate(zip(header, cells, strict=True)) if i not in (p, s)}
        rows.append(_Row(f"{path} line {n}", cells[p].strip(), _split_of(cells[s], f"{path} line {n}")
                         if s is not None else None, values))
    return rows


def _json_rows(path: Path, text: str) -> list[_Row]:
    try:
        blob = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{path} line {e.lineno}: not valid JSON ({e.msg})") from None
    if isinstance(blob, dict):
        return [_Row(f"{path} entry {key!r}", str(key), None, {"labels": value})
                for key, value in blob.items()]
    if not isinstance(blob, list):
        raise UserError(f"{path}: expected a JSON object {{path: labels}} or a list of objects")
    rows = []
    for i, entry in enumerate(blob):
        where = f"{path} entry {i}"
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise UserError(f"{where}: expected an object with a \"path\" string")
        split = _split_of(str(entry["split"]), where) if "split" in entry else None
        rows.append(_Row(where, entry["path"], split,
                         {k: v for k, v in entry.items() if k not in ("path", "split")}))
    return rows


def _split_of(cell: str, where: str) -> str | None:
    key = cell.strip().lower()
    if key not in SPLITS:
        raise UserError(f"{where}: split {cell.strip()!r} is not one of {', '.join(SPLITS)}")
    return SPLITS[key]


def _targets(rows: list[_Row], task: str, columns: list[str] | None, first: Path
             ) -> tuple[str, list[str], Tensor, bool]:
    """``(task, names, targets (N, C), from_list)`` of every row: from a list column (or a JSON mapping),
    or from value columns."""
    keys = list(rows[0].values)
    if not keys:
        raise UserError(f"{first} line 1: no label column besides the path and the split")
    lower = {k.lower(): k for k in keys}
    if columns:
        missing = [c for c in columns if c not in keys]
        if missing:
            raise UserError(f"label_columns: {first} has no column {missing[0]!r} (it has {', '.join(keys)})")
    listed = [lower[c] for c in LIST_COLUMNS if c in lower and (not columns or columns == [lower[c]])]
    if not listed:
        return (*_from_columns(rows, list(columns) if columns else keys, task), False)
    column = listed[0]
    if _numeric(rows[0].values[column]):  # a JSON mapping of numbers: regression targets
        if task == "multilabel":
            raise UserError(f"{rows[0].where}: task=multilabel needs class names, got numbers")
        targets = _numbers(rows, column)
        names = ["target"] if targets.shape[1] == 1 else [f"target_{j}" for j in range(targets.shape[1])]
        return "regression", names, targets, False
    if task == "regression":
        raise UserError(f"{first}: task=regression needs number columns, not the list column {column!r}")
    return ("multilabel", *_from_lists(rows, column), True)


def _numeric(value: object) -> bool:
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _label_list(value: object, where: str) -> list[str]:
    if isinstance(value, str):
        names = [v.strip() for v in _SEPARATORS.split(value) if v.strip()]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        names = [v.strip() for v in value if v.strip()]
    else:
        raise UserError(f"{where}: labels must be class names (a list of strings or 'a;b'), got {value!r}")
    if not names:
        raise UserError(f"{where}: an image without labels; name at least one class (an image with none: "
                        "use one 0/1 column per class)")
    return names


def _from_lists(rows: list[_Row], column: str) -> tuple[list[str], Tensor]:
    lists = [_label_list(r.values.get(column), r.where) for r in rows]
    names = sorted({n for names in lists for n in names})
    index = {n: i for i, n in enumerate(names)}
    targets = torch.zeros(len(rows), len(names))
    for i, labels in enumerate(lists):
        targets[i, [index[n] for n in labels]] = 1.0
    return names, targets


def _numbers(rows: list[_Row], column: str) -> Tensor:
    """``{path: number or [numbers]}``: ``(N, T)`` regression targets, the same ``T`` in every row."""
    values: list[list[float]] = []
    for r in rows:
        v = r.values.get(column)
        v = v if isinstance(v, list) else [v]
        width = len(values[0]) if values else len(v)
        if not _numeric(v) or len(v) != width or not all(math.isfinite(x) for x in v):
            raise UserError(f"{r.where}: expected {width} finite number(s), got {r.values.get(column)!r}")
        values.append([float(x) for x in v])
    return torch.tensor(values, dtype=torch.float32)


def _from_columns(rows: list[_Row], columns: list[str], task: str) -> tuple[str, list[str], Tensor]:
    cells = torch.zeros(len(rows), len(columns), dtype=torch.float64)
    for i, r in enumerate(rows):
        for j, c in enumerate(columns):
            cells[i, j] = _number(r.values.get(c), r.where, c)  # type: ignore[union-attr]
    binary = bool(((cells == 0) | (cells == 1)).all())
    kind = "regression" if task == "regression" or (task == "auto" and not binary) else "multilabel"
    if kind == "multilabel" and not binary:
        i, j = [int(x) for x in (~((cells == 0) | (cells == 1))).nonzero()[0]]
        raise UserError(f"{rows[i].where}: column {columns[j]!r} holds {float(cells[i, j]):g}; class columns "
                        "hold 0 or 1 (numbers to predict: task=regression)")
    return kind, list(columns), cells.float()


def _number(cell: object, where: str, column: str) -> float:
    try:
        value = float(cell)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UserError(f"{where}: column {column!r} holds {cell!r}, not a number (class columns: 0 or 1)"
                        ) from None
    if not math.isfinite(value):
        raise UserError(f"{where}: column {column!r} holds {cell!r}, not a finite number")
    return value


def _assign_splits(rows: list[_Row], first: Path) -> list[str]:
    """Each row's split: from the file (``labels_val``, a split column), else the path's first folder."""
    if all(r.split is not None for r in rows):
        return [r.split for r in rows]  # type: ignore[misc]
    out = []
    for r in rows:
        head = Path(r.path).parts[0].lower() if Path(r.path).parts else ""
        split = r.split or SPLITS.get(head)
        if split is None:
            raise UserError(f"{r.where}: no split for {r.path} (a split column with train / val, "
                            "labels_val=FILE, or paths under train/ and val/)")
        out.append(split)
    return out


def _resolve_paths(rows: list[_Row], splits: list[str], root: Path) -> list[Path]:
    """Absolute paths; a path that is not an image file or does not exist is one line naming the row."""
    out = []
    for r, split in zip(rows, splits, strict=True):
        path = Path(r.path).expanduser()
        path = path if path.is_absolute() else root / path
        if not r.path.lower().endswith(EXTENSIONS):
            raise UserError(f"{r.where}: {r.path} is not an image file ({', '.join(EXTENSIONS)})")
        if split != "test" and not path.is_file():
            raise UserError(f"{r.where}: {path} does not exist (a label row without an image; paths are "
                            f"relative to {root})")
        out.append(path)
    return out


def _check_classes(table: LabelTable, val_rows: list[_Row], from_list: bool) -> None:
    """Every class appears in the training rows (an unknown class of a val row, or a never-positive
    class column, is one line)."""
    counts = table.train.targets.sum(dim=0)
    for j in range(len(table.names)):
        if counts[j] > 0:
            continue
        hit = int(table.val.targets[:, j].nonzero()[0]) if table.val.targets[:, j].any() else None
        if hit is not None and from_list:
            raise UserError(f"{val_rows[hit].where}: unknown class {table.names[j]!r}: it is in no training "
                            "row")
        raise UserError(f"{table.source.split(',')[0]}: class {table.names[j]!r} never appears in the "
                        "training rows; drop its column, or move images that have it to train")
