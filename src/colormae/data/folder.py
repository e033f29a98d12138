"""The user's own images: torchvision ``ImageFolder`` that fails clearly, reads any image, survives bad files.

torchvision already finds the classes (one sub-folder each) and files; what it lacks, and this adds:

* a missing folder, a folder with no image, or a file instead of a folder is one :class:`UserError` line
  (torchvision raises ``FileNotFoundError`` with a long message);
* a folder of images without class sub-folders is read as one class (unlabelled pretraining data);
* any image :mod:`colormae.data.readers` reads: 8/16-bit PNG and TIFF, multi-band TIFF, ``.npy``;
* **one channel count and one bit depth**: the headers are checked up front (every file of folders up to
  ``scan_limit`` files, an evenly spaced sample of larger ones). The channel count is ``channels`` when
  given, else the one most files have; the bit depth is the one most files have. The first file that
  disagrees (and is not a conventional conversion such as a grey JPEG among RGB ones, see
  ``readers.CONVERTIBLE``) is one :class:`UserError` line naming it;
* unreadable images (corrupt, truncated, not an image) are skipped and counted instead of stopping the
  run mid-epoch: files whose header is bad are dropped by the scan (one line on stderr with the count);
  a file that still fails while loading (a truncated body, or a bad file of a larger folder) is replaced
  by the next readable one and marked in a **shared-memory table** (one byte per file), so the marks made
  in DataLoader worker processes are seen by the main process: :attr:`skipped` is the exact number of
  distinct unreadable files met so far by this process and all its workers (:func:`skipped_total` sums
  over ``torchrun`` ranks). A marked file is not tried again.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torchvision.datasets import ImageFolder

from colormae.data.readers import (
    DROPPED_BAND,
    EXTENSIONS,
    ImageInfo,
    UnreadableImage,
    can_convert,
    channels_of,
    drops_band,
    probe,
    read_image,
)
from colormae.data.transforms import tensor_transform
from colormae.errors import UserError
from colormae.progress import warn
from colormae.ranks import all_reduce, rank

#: Errors that mean "this file is not a readable image".
UNREADABLE = (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError)
#: Folders with at most this many files are checked completely when opened (larger: this many sampled).
SCAN_LIMIT = 20_000


def _is_image(path: str) -> bool:
    return path.lower().endswith(EXTENSIONS)


def _note(message: str) -> None:
    """:func:`colormae.progress.warn` (one ``warning:`` line, no source line), from rank 0 only."""
    if rank() == 0:
        warn(message)


class SafeImageFolder(ImageFolder):
    """``ImageFolder`` with clear errors, any image format and skip-and-count for unreadable images
    (module docstring).

    Args:
        root: folder with one sub-folder per class (or images directly: one class).
        transform: applied to the image (8-bit PIL image or float tensor ``(C, H, W)``, see
            :func:`colormae.data.readers.read_image`); the default gives a ``(channels, H, W)`` tensor
            scaled to [0, 1] by bit depth.
        channels: channels the images must have (``None``: what most files have).
        scan_limit: check every file up front when the folder has at most this many, else a sample.

    Attributes:
        channels: the folder's channel count; ``native_channels``: what most files have.
        dtype: the files' sample type (``"uint8"``, ``"uint16"``, ``"float32"``, ...).
        bad_files: unreadable files found by the scan (in this process).
    """

    def __init__(
        self, root: str | Path, transform: Callable | None = None, *, channels: int | None = None,
        scan_limit: int = SCAN_LIMIT,
    ) -> None:
        root = Path(root).expanduser()
        if not root.exists():
            raise UserError(f"image folder {root} does not exist")
        if not root.is_dir():
            raise UserError(f"{root} is not a folder; expected a folder of images (one sub-folder per class)")
        self.bad_files: list[str] = []
        self._warned = False
        try:
            super().__init__(str(root), transform=None, loader=read_image, is_valid_file=_is_image,
                             allow_empty=True)
        except FileNotFoundError:  # torchvision: no class sub-folder at all
            raise UserError(f"image folder {root} has no image files ({_exts()})") from None
        if not self.samples:
            raise UserError(f"image folder {root} has no image files ({_exts()})")
        infos = self._scan(scan_limit)
        self.native_channels, self.dtype = self._check(infos, channels)
        self.channels = channels or self.native_channels
        self.transform = transform if transform is not None else tensor_transform(self.channels)
        # one byte per file, in shared memory: set by whichever process (DataLoader worker) fails to read it
        self._failed = torch.zeros(len(self.samples), dtype=torch.uint8).share_memory_()

    def find_classes(self, directory: str | Path) -> tuple[list[str], dict[str, int]]:
        """Class sub-folders as torchvision finds them; a folder holding images directly is one class."""
        subdirs = [e for e in os.scandir(directory) if e.is_dir() and not e.name.startswith(".")]
        if not subdirs and any(e.is_file() and _is_image(e.name) for e in os.scandir(directory)):
            return ["."], {".": 0}
        return super().find_classes(directory)

    @property
    def skipped(self) -> int:
        """Distinct unreadable files met so far: by the scan, and while loading in this process and its
        DataLoader workers."""
        return len(self.bad_files) + int(self._failed.sum())

    def _scan(self, limit: int) -> dict[int, ImageInfo]:
        """Headers of every file (or an evenly spaced sample of ``limit``); unreadable ones dropped."""
        n = len(self.samples)
        if n <= limit:
            index = range(n)
        else:
            step = (n - 1) / max(1, limit - 1)
            index = sorted({round(i * step) for i in range(limit)}) if limit > 0 else []
        infos: dict[int, ImageInfo] = {}
        for i in index:
            try:
                infos[i] = probe(self.samples[i][0])
            except UnreadableImage:
                self.bad_files.append(self.samples[i][0])
        if index and not infos:
            raise UserError(f"image folder {self.root}: not one of its {len(index)} files is readable")
        if self.bad_files:
            _note(f"skipped {len(self.bad_files)} unreadable image(s) of {n} in {self.root} "
                  f"(first: {self.bad_files[0]})")
            bad = set(self.bad_files)
            good = [s for s in self.samples if s[0] not in bad]
            order = {s[0]: k for k, s in enumerate(good)}
            infos = {order[self.samples[i][0]]: info for i, info in infos.items()}
            self.samples = self.imgs = good
            self.targets = [t for _, t in good]
        return infos

    def _check(self, infos: dict[int, ImageInfo], channels: int | None) -> tuple[int, str | None]:
        """The folder's (channels, dtype); a :class:`UserError` naming the first file that disagrees."""
        return check_formats([(self.samples[i][0], infos[i]) for i in sorted(infos)], channels, self.root)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        """``(transform(image), class_index)``; an unreadable file is replaced by the next readable one."""
        n = len(self.samples)
        for offset in range(n):
            k = (index + offset) % n
            if self._failed[k]:
                continue
            path, target = self.samples[k]
            try:
                image = self.loader(path)
                info = channels_of(image)
                if not can_convert(info, self.channels):
                    raise UnreadableImage(f"{path}: {info} channels, not {self.channels}")
            except UNREADABLE:
                self._failed[k] = 1
                if not self._warned:
                    self._warned = True
                    _note(f"skipping unreadable image {path} (the total is reported at the end)")
                continue
            return self.transform(image), target
        raise UserError(f"image folder {self.root}: no readable image left")


def check_formats(files: list[tuple[str, ImageInfo]], channels: int | None, where: object
                  ) -> tuple[int, str | None]:
    """``(channels, dtype)`` of a set of image files from their headers: ``channels`` when given, else
    the count most files have; the bit depth most files have. A :class:`UserError` names the first file
    that cannot be read as that many channels or has another bit depth (``where``: the folder, for the
    message); one warning when a band of data is dropped (:func:`~colormae.data.readers.drops_band`)."""
    if not files:
        return channels or 3, None
    counts = Counter(info.channels for _, info in files)
    native = channels or _majority([info.channels for _, info in files])
    dtypes = Counter(info.dtype for _, info in files)
    dtype = _majority([info.dtype for _, info in files])
    n = len(files)
    for path, info in files:
        if not can_convert(info.channels, native):
            want = f"in_chans={channels}" if channels else f"{counts[native]} of {n} files have {native}"
            raise UserError(f"{path}: {info.describe()}, but this folder's images need {native} "
                            f"channel(s) ({want}); every file of a folder must have the same "
                            "channel count")
        if info.dtype != dtype:
            other = ImageInfo(native, dtype).depth
            raise UserError(f"{path}: {info.describe()}, but {dtypes[dtype]} of {n} files of {where} "
                            f"are {other}; every file of a folder must have the same bit depth")
    dropped = next((path for path, info in files if drops_band(path, info.channels, native)), None)
    if dropped:
        _note(f"{dropped}: {DROPPED_BAND}")
    return native, dtype


def _majority(values: list) -> object:
    """The most frequent value; ties go to the one met first."""
    counts = Counter(values)
    return max(counts, key=lambda v: (counts[v], -values.index(v)))


def skipped_total(dataset: object) -> int:
    """Unreadable files skipped by ``dataset`` (0 for data sets that never skip), over all ``torchrun``
    ranks: the scan count (the same on every rank) plus the union of the load-time marks."""
    base = getattr(dataset, "base", None) or getattr(dataset, "dataset", None)
    if not isinstance(dataset, SafeImageFolder) and not hasattr(dataset, "_failed"):  # shards, HF: the same
        return skipped_total(base) if base is not None else 0
    failed = dataset._failed
    return len(dataset.bad_files) + int(all_reduce(failed.clone(), "max").sum())


def _exts() -> str:
    return ", ".join(sorted({e.lstrip(".") for e in EXTENSIONS}))
