"""The user's own images: torchvision ``ImageFolder`` that fails clearly and survives bad files.

torchvision already finds the classes (one sub-folder each) and files; what it lacks, and this adds:

* a missing folder, a folder with no image, or a file instead of a folder is one :class:`UserError` line
  (torchvision raises ``FileNotFoundError`` with a long message);
* a folder of images without class sub-folders is read as one class (unlabelled pretraining data);
* unreadable images (corrupt, truncated, not an image) are skipped and counted instead of stopping the
  run mid-epoch: the headers of small folders (up to ``scan_limit`` files) are checked up front, the bad
  files dropped and one warning gives the count; a file that still fails while loading (a truncated body,
  or any bad file of a larger folder) is replaced by the next readable one, with one warning the first
  time and the running count in :attr:`skipped` (per process: each DataLoader worker counts its own).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS, default_loader

from colormae.data.transforms import tensor_transform
from colormae.errors import UserError

#: Errors that mean "this file is not a readable image".
UNREADABLE = (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError)
#: Folders with at most this many files are checked completely when opened.
SCAN_LIMIT = 20_000


def _is_image(path: str) -> bool:
    return path.lower().endswith(IMG_EXTENSIONS)


def _has_image_header(path: str) -> bool:
    """Cheap check (header only, no decoding): catches non-images, empty and garbage files."""
    try:
        with Image.open(path) as image:
            return image.size[0] > 0 and image.size[1] > 0
    except UNREADABLE:
        return False


class SafeImageFolder(ImageFolder):
    """``ImageFolder`` with clear errors and skip-and-count for unreadable images (module docstring).

    Args:
        root: folder with one sub-folder per class (or images directly: one class).
        transform: applied to the RGB PIL image; the default gives a ``(3, H, W)`` tensor in [0, 1].
        scan_limit: check every file up front when the folder has at most this many.

    Attributes:
        skipped: number of unreadable files found so far (in this process).
        bad_files: their paths.
    """

    def __init__(
        self, root: str | Path, transform: Callable | None = None, *, scan_limit: int = SCAN_LIMIT
    ) -> None:
        root = Path(root).expanduser()
        if not root.exists():
            raise UserError(f"image folder {root} does not exist")
        if not root.is_dir():
            raise UserError(f"{root} is not a folder; expected a folder of images (one sub-folder per class)")
        self.bad_files: list[str] = []
        self._warned = False
        try:
            super().__init__(
                str(root), transform=transform if transform is not None else tensor_transform(),
                loader=default_loader, allow_empty=True,
            )
        except FileNotFoundError:  # torchvision: no class sub-folder at all
            raise UserError(f"image folder {root} has no image files ({_exts()})") from None
        if not self.samples:
            raise UserError(f"image folder {root} has no image files ({_exts()})")
        if len(self.samples) <= scan_limit:
            self._scan()

    def find_classes(self, directory: str | Path) -> tuple[list[str], dict[str, int]]:
        """Class sub-folders as torchvision finds them; a folder holding images directly is one class."""
        subdirs = [e for e in os.scandir(directory) if e.is_dir() and not e.name.startswith(".")]
        if not subdirs and any(e.is_file() and _is_image(e.name) for e in os.scandir(directory)):
            return ["."], {".": 0}
        return super().find_classes(directory)

    @property
    def skipped(self) -> int:
        """How many unreadable files were found (and skipped) so far."""
        return len(self.bad_files)

    def _scan(self) -> None:
        good = []
        for path, target in self.samples:
            if _has_image_header(path):
                good.append((path, target))
            else:
                self.bad_files.append(path)
        if not good:
            raise UserError(f"image folder {self.root}: not one of its {len(self.samples)} files is readable")
        if self.bad_files:
            self._warn(f"skipped {self.skipped} unreadable image(s) of {len(self.samples)} in {self.root} "
                       f"(first: {self.bad_files[0]})")
        self.samples = self.imgs = good
        self.targets = [t for _, t in good]

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        """``(transform(image), class_index)``; an unreadable file is replaced by the next readable one."""
        for offset in range(len(self.samples)):
            path, target = self.samples[(index + offset) % len(self.samples)]
            try:
                image = self.loader(path)
            except UNREADABLE:
                self.bad_files.append(path)
                self._warn(f"skipping unreadable image {path}; the count so far is kept in .skipped")
                continue
            return self.transform(image), target
        raise UserError(f"image folder {self.root}: no readable image left")


def _exts() -> str:
    return ", ".join(sorted({e.lstrip(".") for e in IMG_EXTENSIONS}))
