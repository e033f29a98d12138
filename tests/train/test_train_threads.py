"""Intra-op threads: a share of the cores per local process, less what other work keeps busy."""

from __future__ import annotations

import os

import pytest
import torch

from colormae.errors import UserError
from colormae.train import threads as th


@pytest.fixture
def machine(monkeypatch):
    """A fake machine: ``set(cores, load)``; no OMP_NUM_THREADS, torch's thread count restored after."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    before = torch.get_num_threads()

    def set_machine(cores: int, load: float) -> None:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
        monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))

    yield set_machine
    torch.set_num_threads(before)


@pytest.mark.parametrize(("cores", "load", "local_world", "expected"), [
    (16, 0.0, 1, 16),   # an idle machine, one process: every core
    (16, 1.0, 4, 4),    # torchrun with 4 local processes: a quarter each (our own process is the load)
    (16, 9.0, 2, 4),    # 8 cores busy elsewhere: the other 8 shared by 2 processes
    (2, 6.0, 1, 1),     # the loaded 2-core machine of the report: 1 thread, not 2
    (3, 0.0, 8, 1),     # more processes than cores: never 0
])
def test_automatic_choice(machine, cores, load, local_world, expected):
    machine(cores, load)
    assert th.configure_threads(None, local_world) == expected
    assert torch.get_num_threads() == expected


def test_explicit_setting_and_environment_win(machine, monkeypatch):
    machine(16, 0.0)
    assert th.configure_threads(3, 4) == 3 and torch.get_num_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert th.choose_threads(None, 1) == 5
    assert th.choose_threads(2, 1) == 2
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")
    assert th.choose_threads(None, 2) == 5  # OMP_NUM_THREADS=5 was the user's
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # torchrun's own default: not a choice
    assert th.choose_threads(None, 2) == 8
    with pytest.raises(UserError, match="at least 1"):
        th.choose_threads(0, 1)


def test_every_job_applies_the_threads_setting(tmp_path):
    from colormae.cli import main

    before = torch.get_num_threads()
    try:
        assert main(["pretrain", "--out", str(tmp_path / "run"), "model=mae_vit_micro_32px", "data=mnist5k",
                     "max_steps=1", "batch_size=8", "num_workers=0", "bank_size=16", "pattern_size=16",
                     "threads=3", "--no-progress"]) == 0
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
