"""Progress for every long job: a tqdm bar on a terminal, plain periodic lines in a log file.

tqdm redraws its bar with carriage returns; written to a file (a cluster job's log, ``cmd 2> log``) that
becomes hundreds of frames. tqdm has no line mode, so :class:`LineProgress` adds one: a tqdm whose
``display`` prints a whole line only when another :data:`EVERY_PERCENT` % is done or :data:`EVERY_SECONDS`
have passed, plus the final line. The bar is off on every process but rank 0 (:func:`colormae.ranks.rank`),
so jobs under torchrun need no check of their own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import IO, Any

from tqdm import tqdm as _std_tqdm
from tqdm.auto import tqdm as _auto_tqdm

from colormae.ranks import rank

#: Line mode: a line each time this much more of the total is done ...
EVERY_PERCENT = 10
#: ... or when this many seconds passed since the last line.
EVERY_SECONDS = 30.0
_BAR_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
_BAR_FORMAT_NO_TOTAL = "{desc}: {n_fmt} [{elapsed}, {rate_fmt}{postfix}]"


#: Whether tqdm.auto picked its notebook widget (Jupyter: stderr is no terminal, yet a bar renders).
_NOTEBOOK = any(c.__module__.startswith("tqdm.notebook") for c in _auto_tqdm.__mro__)


def _now() -> float:
    return time.monotonic()


class LineProgress(_std_tqdm):
    """A tqdm writing a plain line per :data:`EVERY_PERCENT` % or :data:`EVERY_SECONDS` s (no ``\\r``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._line_t = _now()
        self._line_bucket = -1
        self._line_n: int | float | None = None
        kwargs["leave"] = False  # tqdm's own final frame ends with "\r"/"\n" games; close() prints ours
        iterable = args[0] if args else kwargs.get("iterable")
        if kwargs.get("total") is None and hasattr(iterable, "__len__"):
            kwargs["total"] = len(iterable)
        has_total = kwargs.get("total") is not None
        kwargs.setdefault("bar_format", _BAR_FORMAT if has_total else _BAR_FORMAT_NO_TOTAL)
        kwargs.update(mininterval=0, miniters=1)  # every update reaches display(), which decides cheaply
        super().__init__(*args, **kwargs)

    def _bucket(self) -> int:
        return int(100 * self.n / self.total // EVERY_PERCENT) if self.total else -1

    def _emit(self) -> None:
        self.fp.write(self.__str__() + "\n")
        self.fp.flush()
        self._line_t, self._line_bucket, self._line_n = _now(), self._bucket(), self.n

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:  # noqa: D102 - tqdm's API
        if msg is not None:  # tqdm clearing the bar (msg=""): there is nothing to clear
            return False
        first = self._line_n is None
        if first or self._bucket() != self._line_bucket or _now() - self._line_t >= EVERY_SECONDS:
            self._emit()
        return True

    def clear(self, nolock: bool = False) -> None:  # noqa: D102 - lines are never erased
        return

    def close(self) -> None:  # noqa: D102 - the final line, once
        if not self.disable and self._line_n != self.n:
            self._emit()
        super().close()


def is_terminal(stream: IO[str] | None) -> bool:
    """Whether ``stream`` is an interactive terminal."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress(iterable: Iterable | None = None, *, total: int | float | None = None, desc: str | None = None,
             unit: str = "it", enabled: bool = True, leave: bool = True, initial: int = 0,
             file: IO[str] | None = None, **kwargs: Any) -> _std_tqdm:
    """A progress bar over ``iterable`` (or updated by hand up to ``total``), like ``tqdm(...)``.

    On a terminal (or in a notebook) a tqdm bar; otherwise :class:`LineProgress` lines. Disabled when
    ``enabled`` is false or on any rank but 0. ``file`` defaults to ``sys.stderr``.
    """
    stream = file if file is not None else sys.stderr
    disable = not enabled or rank() != 0
    if is_terminal(stream) or _NOTEBOOK:
        cls = _auto_tqdm
        kwargs.setdefault("dynamic_ncols", True)
        kwargs["leave"] = leave
    else:
        cls = LineProgress
    return cls(iterable, total=total, desc=desc, unit=unit, disable=disable, initial=initial, file=stream,
               **kwargs)


def write(message: str, *, file: IO[str] | None = None) -> None:
    """Print a line without breaking an active bar (``tqdm.write``); to stdout by default."""
    _std_tqdm.write(message, file=file)


def warn(message: str, *, file: IO[str] | None = None) -> None:
    """One ``warning: <message>`` line on stderr (every rank; no source line, unlike ``warnings.warn``)."""
    print(f"warning: {message}", file=file or sys.stderr, flush=True)


def plural(count: int, noun: str) -> str:
    """``"1 unreadable image"``, ``"2 unreadable images"``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
