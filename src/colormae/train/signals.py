"""Stop requests from SIGINT / SIGTERM that never interrupt the code they arrive in.

Python's default SIGINT handler raises :class:`KeyboardInterrupt` wherever the interpreter happens to be:
inside an all-reduce one rank waits on forever, between ``optimizer.step()`` and ``step += 1`` (the
checkpoint then labels updated weights with the previous step), or in the middle of writing a checkpoint.
:class:`StopSignals` replaces the handlers with ones that only record the request; the training loop
looks at :attr:`StopSignals.requested` at each step boundary, where stopping is safe, saves and exits.
Signals that arrive while it saves are recorded and otherwise ignored.

The one escape hatch: a third Ctrl-C press outside a save (a run stuck, e.g., in a data loader) raises
:class:`ForcedQuit` at once, without a checkpoint; the last one written stays valid. SIGINTs closer than
:data:`PRESS_GAP` seconds count as one press (under torchrun one Ctrl-C reaches a worker twice: from the
terminal and forwarded by torchrun).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

#: Signals turned into stop requests.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
#: Ctrl-C presses (outside a save) after which the run quits without waiting for the step to end.
FORCE_AFTER = 3
#: SIGINTs less than this many seconds apart are one Ctrl-C press.
PRESS_GAP = 0.5


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by the engine after it stopped on a signal at a step boundary (a checkpoint is saved)."""

    def __init__(self, message: str, *, signum: int | None = None) -> None:
        super().__init__(message)
        self.signum = signum


class ForcedQuit(KeyboardInterrupt):
    """Ctrl-C pressed :data:`FORCE_AFTER` times: quit now, without saving."""


class StopSignals:
    """Context manager: while active, SIGINT and SIGTERM set :attr:`requested` instead of raising.

    Installs its handlers only on the main thread (Python delivers signals there); elsewhere it is
    inert and the previous behaviour stays. The previous handlers are restored on exit.
    """

    def __init__(self) -> None:
        self.signum: int | None = None   #: the first signal received, if any
        self.count = 0                   #: signals received so far
        self._saving = 0
        self._ints = 0
        self._last_int = -float("inf")
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        """Whether a stop was requested (a signal arrived, or :meth:`request` was called)."""
        return self.signum is not None

    def request(self, signum: int = signal.SIGTERM) -> None:
        """Record a stop request (what the handler does; also for tests and callers)."""
        if self.signum is None:
            self.signum = int(signum)
        self.count += 1

    @contextmanager
    def saving(self) -> Iterator[None]:
        """A block no signal may cut short (checkpoint writes): requests are only recorded."""
        self._saving += 1
        try:
            yield
        finally:
            self._saving -= 1

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.request(signum)
        if signum == signal.SIGINT and not self._saving:
            now = time.monotonic()
            if now - self._last_int >= PRESS_GAP:
                self._ints += 1
            self._last_int = now
            if self._ints >= FORCE_AFTER:  # nothing is printed here: a handler may run mid-write
                raise ForcedQuit(f"Ctrl-C pressed {self._ints} times: quitting without a checkpoint")

    def install(self) -> StopSignals:
        """Take over SIGINT and SIGTERM (main thread only; elsewhere a no-op). Returns ``self``."""
        if threading.current_thread() is threading.main_thread() and not self._previous:
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def restore(self) -> None:
        """Put the previous handlers back."""
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def __enter__(self) -> StopSignals:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.restore()

    @property
    def name(self) -> str:
        """The first signal's name (``SIGTERM``), or ``"stop request"``."""
        return signal_name(self.signum)


def signal_name(signum: int | None) -> str:
    """``SIGTERM`` for 15; ``"stop request"`` for ``None`` / 0."""
    if not signum:
        return "stop request"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class _IgnoreStopSignals:
    """A picklable DataLoader ``worker_init_fn``: the worker ignores SIGINT and SIGTERM, then runs ``inner``.

    A terminal's Ctrl-C and a scheduler's SIGTERM reach every process of the job, loader workers too. A
    worker killed by it makes the main process raise "DataLoader worker exited unexpectedly" from its
    SIGCHLD handler, at any point of the step. Workers still stop when the main process ends them
    or dies (PyTorch's worker watchdog).
    """

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner

    def __call__(self, worker_id: int) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        if self.inner is not None:
            self.inner(worker_id)


def shield_loader_workers(loader: Any) -> None:
    """Make ``loader``'s future worker processes ignore stop signals (the main process handles them).

    Takes effect for workers started after the call (call it before the first ``iter(loader)``).
    """
    if getattr(loader, "num_workers", 0) > 0 and not isinstance(getattr(loader, "worker_init_fn", None),
                                                                 _IgnoreStopSignals):
        loader.worker_init_fn = _IgnoreStopSignals(loader.worker_init_fn)
