"""The heartbeat names the rank that is gone: silent (died), noted (stopped on its own error), or none."""

from __future__ import annotations

import time

import pytest
import torch.distributed as tdist

from colormae.train.distributed import DistInfo
from colormae.train.heartbeat import Gone, Heartbeat

pytestmark = pytest.mark.skipif(not tdist.is_available(), reason="torch.distributed missing")
BEAT = 0.05


def _info(rank: int, world: int = 3) -> DistInfo:
    return DistInfo(rank=rank, local_rank=rank, world_size=world)


def test_a_silent_rank_died_and_a_beating_one_is_alive():
    store = tdist.HashStore()
    alive = Heartbeat.start(_info(1), store, interval=BEAT)  # rank 2 never beats: killed
    me = Heartbeat.start(_info(0), store, interval=BEAT)
    try:
        t0 = time.monotonic()
        found = me.gone(wait=0.6)
        assert found == Gone(died=(2,))
        assert time.monotonic() - t0 >= 0.6  # rank 2 was watched for the whole wait
        assert me.describe(wait=0.6).startswith("rank 2 died (killed, out of host memory or its machine "
                                                "lost: its heartbeat stopped)")
    finally:
        alive.stop()
        me.stop()


def test_a_rank_that_left_on_its_error_is_named_with_it_at_once():
    store = tdist.HashStore()
    alive = Heartbeat.start(_info(1), store, interval=BEAT)
    Heartbeat(_info(2), store).leave(RuntimeError("boom in the data\nsecond line"))
    me = Heartbeat(_info(0), store, interval=BEAT)
    try:
        t0 = time.monotonic()
        assert me.gone(wait=5.0) == Gone(left=((2, "RuntimeError: boom in the data"),))
        assert time.monotonic() - t0 < 2.0  # every other rank accounted for: no need to wait it out
        assert me.describe() == "rank 2 stopped on an error of its own (RuntimeError: boom in the data)"
    finally:
        alive.stop()


def test_every_rank_beating_is_a_hang_or_a_network_fault():
    store = tdist.HashStore()
    beats = [Heartbeat.start(_info(r), store, interval=BEAT) for r in (1, 2)]
    try:
        me = Heartbeat(_info(0), store, interval=BEAT)
        assert me.gone(wait=1.0) == Gone()
        assert "every heartbeat still runs: a hung process or a network fault" in me.describe(wait=1.0)
    finally:
        for beat in beats:
            beat.stop()


class _DeadStore:
    """A store whose holder is gone: every operation fails."""

    def clone(self):
        return self

    def add(self, *args):
        raise RuntimeError("Connection reset by peer")

    set = get = check = add


def test_a_store_that_stopped_answering_names_rank_0_which_held_it(monkeypatch):
    monkeypatch.delenv("TORCHELASTIC_USE_AGENT_STORE", raising=False)
    assert Heartbeat(_info(1, 2), _DeadStore()).gone() == Gone(store_lost=True)
    assert Heartbeat(_info(1, 2), _DeadStore()).describe().startswith("rank 0 died (the job's store")
    monkeypatch.setenv("TORCHELASTIC_USE_AGENT_STORE", "True")  # torchrun's agent holds it: no one known
    assert "rank 0" not in Heartbeat(_info(1, 2), _DeadStore()).describe()


def test_the_collective_error_is_its_first_sentence():
    from colormae.train.distributed import collective_error_line

    gloo = RuntimeError("[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:561] Connection "
                        "closed by peer [127.0.0.1]:41349. This is typically caused by a remote worker\nmore")
    assert collective_error_line(gloo) == "Connection closed by peer [127.0.0.1]:41349"
    assert collective_error_line(RuntimeError("")) == "RuntimeError"


def test_one_process_has_no_heartbeat():
    beat = Heartbeat.start(DistInfo())
    assert beat.gone() is None
    assert beat.describe() == "another process of the job died or stopped answering"
    beat.leave(RuntimeError("x"))  # nothing to tell anyone
    beat.stop()
