"""Writing files atomically, with the permissions a plain ``open(path, "w")`` would give, and turning a
full / read-only / forbidden destination into one :class:`~colormae.errors.UserError` line.

Every writer of colormae goes through :func:`atomic_write` (or wraps its own writes in :func:`writing`):
a disk that fills up mid-write leaves the previous file intact and no partial one, and the user reads
``cannot write FILE: no space left on device (12.0 MB free on /mnt); free space ...`` instead of a
traceback. :func:`disk_error` recognises the same faults in the forms libraries re-raise them (torch's
``inline_container.cc ... unexpected pos`` RuntimeError, safetensors' ``SafetensorError ... I/O error``);
``colormae.cli.main`` uses it as its last net.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from colormae.errors import UserError

#: The errnos of a destination that cannot take the file: full, over quota, read-only, forbidden.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})
#: Below this many free bytes a library's generic write failure is taken for a full disk.
_NEARLY_FULL = 64 * 2**20
_ADVICE = {
    errno.ENOSPC: "free space there or choose another --out",
    errno.EDQUOT: "free space within your quota or choose another --out",
    errno.EROFS: "the file system is read-only: choose a writable --out",
    errno.EACCES: "no permission to write there: choose a writable --out",
    errno.EPERM: "no permission to write there: choose a writable --out",
}


class WriteFailed(UserError):
    """A file could not be written (disk full, quota, read-only, permission); ``path`` names it."""

    def __init__(self, message: str, path: Path | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.path, self.code = path, code


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def free_space(path: str | Path) -> str:
    """``"12.0 MB free on /mnt"`` for the file system holding ``path`` (its nearest existing parent)."""
    where = Path(path).absolute()
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return "free space unknown"
    return f"{free / 1e6:.1f} MB free on {where}"


def _free_bytes(path: Path) -> int | None:
    where = path.absolute()
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        return shutil.disk_usage(where).free
    except OSError:
        return None


def _os_errors(exc: BaseException) -> Iterator[OSError]:
    """``exc`` and the exceptions it was raised from / during, the OSErrors among them."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError):
            yield cur
        cur = cur.__cause__ or cur.__context__


def _library_write_failure(exc: BaseException) -> bool:
    """torch's zip writer and safetensors report a failed ``write`` without its errno."""
    text = str(exc)
    return ("unexpected pos" in text or "file write failed" in text or "I/O error" in text
            or type(exc).__name__ == "SafetensorError")


def disk_error(exc: BaseException, path: str | Path | None = None) -> WriteFailed | None:
    """The one-line :class:`WriteFailed` for ``exc`` if it is a write the destination refused, else ``None``.

    An ``OSError`` (or one in ``exc``'s chain) with an errno of :data:`DISK_ERRNOS`; a library's errno-less
    write failure counts when ``path`` (or the error's file) is on a nearly full or non-writable file system.
    """
    if isinstance(exc, WriteFailed):
        return exc
    for os_err in _os_errors(exc):
        if os_err.errno in DISK_ERRNOS:
            target = Path(path if path is not None else (os_err.filename or "?"))
            return _failed(target, os_err.errno, os_err.strerror or str(os_err))
    if path is not None and _library_write_failure(exc):
        target = Path(path)
        free = _free_bytes(target)
        if free is not None and free < _NEARLY_FULL:
            return _failed(target, errno.ENOSPC, "no space left on device")
        parent = target.parent if not target.is_dir() else target
        if parent.exists() and not os.access(parent, os.W_OK):
            return _failed(target, errno.EACCES, "permission denied")
    return None


def _failed(path: Path, code: int, reason: str) -> WriteFailed:
    advice = _ADVICE.get(code, "choose another --out")
    return WriteFailed(f"cannot write {path}: {reason.lower()} ({free_space(path)}); {advice}", path, code)


@contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Turn a refused write of ``path`` inside the block into :class:`WriteFailed` (other errors pass)."""
    try:
        yield
    except Exception as exc:
        failed = disk_error(exc, path)
        if failed is None:
            raise
        raise failed from exc


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None], *, mode: int | None = None,
                 sync: bool = True) -> Path:
    """Write ``path`` through ``write(fh)`` into a temporary file of the same folder, then rename it.

    A crash mid-write leaves the previous file intact, never a half-written one. ``mkstemp`` creates its
    file readable by its owner only; the result gets the mode ``0o666 & ~umask`` (or ``mode``) like any other
    file. A full, read-only or forbidden destination raises :class:`WriteFailed` (the temporary removed).
    ``sync=False`` skips the ``fsync`` (many small files of a set that a marker file written last makes
    whole, e.g. an exported image folder): still never half-written after a crash of the program, only
    after one of the machine.
    """
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                if sync:
                    os.fsync(fh.fileno())
            os.chmod(tmp, (0o666 & ~_umask()) if mode is None else mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


def atomic_write_text(path: str | Path, text: str, *, sync: bool = True) -> Path:
    """:func:`atomic_write` of ``text`` as UTF-8 (no newline translation)."""
    data = text.encode("utf-8")

    def write(fh: BinaryIO) -> None:
        fh.write(data)

    return atomic_write(path, write, sync=sync)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path next to ``path`` for writers that only take a file name (``safetensors.save_file``,
    ``torch.onnx.export``); renamed to ``path`` with umask permissions when the block ends, removed on
    error."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            yield Path(tmp)
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """A temporary folder next to ``path`` for writers of a whole folder (``save_pretrained``); when the
    block ends it takes the place of ``path`` (an existing folder there is replaced), its files and itself
    with umask permissions; on error it is removed and ``path`` is left as it was.

    The swap is two renames (the old folder aside, the new one in): a crash between them leaves the old
    folder as ``.NAME.*.old`` beside it, never a half-written ``path``.
    """
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        try:
            yield tmp
            umask_permissions(tmp)
            os.chmod(tmp, 0o777 & ~_umask())
            old = None
            if path.is_dir():
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
                os.replace(path, old)
            os.replace(tmp, path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def umask_permissions(folder: str | Path) -> None:
    """Give the files directly in ``folder`` the mode ``0o666 & ~umask`` (a library wrote them 0600)."""
    mode = 0o666 & ~_umask()
    for path in Path(folder).iterdir():
        if path.is_file():
            os.chmod(path, mode)
