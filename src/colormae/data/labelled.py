"""The images a label file lists (:mod:`colormae.data.labels`), read like an image folder.

:class:`LabelledImages` is :class:`~colormae.data.folder.SafeImageFolder` (one channel count and bit
depth checked up front, unreadable files skipped and counted) over the paths of one split of a
:class:`~colormae.data.labels.LabelTable` instead of the files of class sub-folders. An item is
``(image (C, H, W), row)``: ``row`` indexes :attr:`LabelledImages.label_targets`, so the integer label
path of the loaders and the feature cache is unchanged and the targets are looked up by row
(:func:`targets_of`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch import Tensor
from torch.utils.data import Dataset, Subset

from colormae.data.folder import SCAN_LIMIT, SafeImageFolder
from colormae.data.labels import LabelTable


class LabelledImages(SafeImageFolder):
    """One split of a label table as a data set of ``(image, row)``.

    Args:
        table: the label table (:func:`colormae.data.labels.read_labels`).
        split: ``"train"`` or ``"val"``.
        transform, channels, scan_limit: as :class:`~colormae.data.folder.SafeImageFolder`.

    Attributes:
        classes: the table's class (or target) names; ``label_targets``: ``(N, C)`` float32, one row per
            path of the split; ``task``: ``"multilabel"`` or ``"regression"``.
    """

    def __init__(self, table: LabelTable, split: str, transform: Callable | None = None, *,
                 channels: int | None = None, scan_limit: int = SCAN_LIMIT) -> None:
        part = table.train if split == "train" else table.val
        self._paths, self.label_targets, self.task = part.paths, part.targets, table.task
        self._names = list(table.names)
        super().__init__(table.root, transform, channels=channels, scan_limit=scan_limit)

    def find_classes(self, directory: str | Path) -> tuple[list[str], dict[str, int]]:
        """The table's names (not sub-folders)."""
        return list(self._names), {n: i for i, n in enumerate(self._names)}

    def make_dataset(self, directory: str | Path, class_to_idx: dict[str, int], extensions: object = None,
                     is_valid_file: object = None, allow_empty: bool = False) -> list[tuple[str, int]]:
        """``(path, row)`` of every path of the split."""
        return [(str(p), i) for i, p in enumerate(self._paths)]


def labelled_base(dataset: Dataset) -> LabelledImages | None:
    """The :class:`LabelledImages` under ``dataset`` (through ``Subset``), else ``None``."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return dataset if isinstance(dataset, LabelledImages) else None


def targets_of(dataset: Dataset, rows: Tensor) -> Tensor:
    """``(N, C)`` targets of the ``rows`` (``(N,)``, the labels its items carry) of a labelled data set."""
    base = labelled_base(dataset)
    if base is None:
        raise TypeError(f"{type(dataset).__name__} is not a labelled data set")
    return base.label_targets[rows.long().cpu()]


def paths_of(dataset: Dataset, rows: Tensor) -> list[str]:
    """The image paths of the ``rows`` (``(N,)``) of a labelled data set."""
    base = labelled_base(dataset)
    if base is None:
        raise TypeError(f"{type(dataset).__name__} is not a labelled data set")
    return [str(base._paths[int(r)]) for r in rows]
