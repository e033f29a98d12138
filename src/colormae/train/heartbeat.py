"""Which process of a torchrun job is gone: a heartbeat of every rank in torch.distributed's store.

When a collective fails because a peer is gone (gloo: ``Connection closed by peer``; NCCL: a timeout), the
error does not say which rank it was. Each rank therefore counts a key of the job's store up once a second
from a daemon thread (:class:`Heartbeat`), on its own connection (``Store.clone``), and writes a note
before it leaves on an error of its own (:meth:`Heartbeat.leave`). A rank whose collective failed reads the
counts twice, :data:`WAIT_S` apart (:meth:`Heartbeat.gone`): a rank with a note stopped on that error, a
rank whose count did not move died (killed, out of host memory, its machine lost), and when every count
moved the job is hung or its network failed. Under ``torchrun`` the store is the agent's; with plain
``env://`` rank 0 holds it, so a store that stopped answering means rank 0 died. Keys are
``colormae/<restart>/beat/<rank>`` and ``colormae/<restart>/left/<rank>`` (``TORCHELASTIC_RESTART_COUNT``:
an elastic restart starts counting afresh).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch.distributed as tdist

from colormae.train.distributed import DistInfo

#: Seconds between two beats of a rank.
INTERVAL_S = 1.0
#: Seconds a rank's count may stand still before the rank is taken for dead.
WAIT_S = 5.0
#: Seconds a store operation of the heartbeat waits before giving up (the store's holder is gone).
STORE_TIMEOUT_S = 10.0


def job_store(timeout_s: float = STORE_TIMEOUT_S) -> Any | None:
    """A new connection to the default process group's store (``None`` without one or if it fails)."""
    if not (tdist.is_available() and tdist.is_initialized()):
        return None
    try:
        store = tdist.distributed_c10d._get_default_store().clone()
        store.set_timeout(timedelta(seconds=timeout_s))
    except Exception:  # noqa: BLE001 - a store without clone(): no heartbeat, the generic message stays
        return None
    return store


def _clone(store: Any | None) -> Any | None:
    """Another connection to ``store`` (a ``TCPStore``'s ``clone``), or ``store`` itself (a ``HashStore``)."""
    try:
        return store.clone() if store is not None else None
    except Exception:  # noqa: BLE001 - stores without clone() are in-process: shared safely
        return store


@dataclass(frozen=True)
class Gone:
    """What :meth:`Heartbeat.gone` found: ``died`` (count stood still, no note), ``left`` (rank -> its
    note: the error it stopped on); both empty when every rank still beats; ``store_lost``: the store
    stopped answering."""

    died: tuple[int, ...] = ()
    left: tuple[tuple[int, str], ...] = ()
    store_lost: bool = False


class Heartbeat:
    """This rank's beat in the job's store, and the reading of the others' (module docstring).

    ``store`` (for tests: any ``torch.distributed.Store``) is what the thread uses; :meth:`start` makes
    one from the process group. Without a store (one process, no process group) nothing happens.
    """

    def __init__(self, info: DistInfo, store: Any | None = None, *, interval: float = INTERVAL_S) -> None:
        self.info, self.interval = info, interval
        self.prefix = f"colormae/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}"
        self._store = store
        self._reader = _clone(store)  # the main thread's own connection
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def start(cls, info: DistInfo, store: Any | None = None, *, interval: float = INTERVAL_S) -> Heartbeat:
        """A running heartbeat of this rank (a no-op object for one process)."""
        if store is None and info.distributed:
            store = job_store()
        beat = cls(info, store, interval=interval)
        if store is not None:
            beat._thread = threading.Thread(target=beat._beat, name="colormae-heartbeat", daemon=True)
            beat._thread.start()
        return beat

    def key(self, what: str, rank: int) -> str:
        """The store key of ``rank``'s beat count (``what="beat"``) or note (``"left"``)."""
        return f"{self.prefix}/{what}/{rank}"

    def _beat(self) -> None:
        key = self.key("beat", self.info.rank)
        while True:
            try:
                self._store.add(key, 1)  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001 - the store's holder is gone: nothing left to tell
                return
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        """Stop beating (the run ended on this rank)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)  # a daemon: one blocked on a dead store is left behind
            self._thread = None

    def leave(self, err: BaseException) -> None:
        """Note the error this rank stops on (its first line), for the ranks it leaves behind."""
        if self._reader is None:
            return
        text = str(err).strip()
        line = f"{type(err).__name__}: {text.splitlines()[0][:200]}" if text else type(err).__name__
        try:
            self._reader.set(self.key("left", self.info.rank), line)
        except Exception:  # noqa: BLE001 - the store is gone too: the others find this rank silent
            pass

    def gone(self, wait: float = WAIT_S) -> Gone | None:
        """The other ranks that are gone (see :class:`Gone`); ``None`` without a store. Returns as soon as
        every other rank's count moved or left a note, else after ``wait`` seconds."""
        store = self._reader
        if store is None:
            return None
        others = [r for r in range(self.info.world_size) if r != self.info.rank]
        try:
            before = {r: store.add(self.key("beat", r), 0) for r in others}
            silent, deadline = set(others), time.monotonic() + wait
            while True:
                left = {r: store.get(self.key("left", r)).decode() for r in sorted(silent)
                        if store.check([self.key("left", r)])}
                silent = {r for r in silent if r in left or store.add(self.key("beat", r), 0) == before[r]}
                if not silent - set(left) or time.monotonic() >= deadline:
                    break
                time.sleep(min(self.interval / 2, max(0.0, deadline - time.monotonic())))
        except Exception:  # noqa: BLE001 - the store stopped answering: its holder is gone
            return Gone(store_lost=True)
        return Gone(died=tuple(sorted(silent - set(left))), left=tuple(sorted(left.items())))

    def describe(self, wait: float = WAIT_S) -> str:
        """Which process of the job is gone, as words for the lost-rank line ("rank 1 died (...)")."""
        found = self.gone(wait)
        if found is None:
            return "another process of the job died or stopped answering"
        if found.store_lost:
            if self.info.rank != 0 and os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
                return "rank 0 died (the job's store, which it held, stopped answering)"
            return "another process of the job died or stopped answering (the job's store is gone too)"
        parts = [f"rank {r} stopped on an error of its own ({note})" for r, note in found.left]
        if found.died:
            ranks = ", ".join(str(r) for r in found.died)
            parts.insert(0, f"rank{'s' if len(found.died) > 1 else ''} {ranks} died (killed, out of host "
                            "memory or its machine lost: its heartbeat stopped)")
        return "; ".join(parts) or ("another process of the job stopped answering (every heartbeat still "
                                    "runs: a hung process or a network fault)")
