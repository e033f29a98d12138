"""A killed torchrun rank: the other leaves within the collective timeout with one line naming it, and a
resume from the last checkpoint reaches the weights of an uninterrupted run; a rank that stops on an error of
its own is named with that error."""

from __future__ import annotations

import os
import signal
import time

import pytest
import torch
import torch.multiprocessing as mp

pytestmark = [pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing"),
              pytest.mark.slow]

KILL_AT = 5   # rank 1 dies (SIGKILL) after its 5th optimizer update
TOTAL = 8


def _pretrain(out: str, resume: bool):
    from colormae.jobs.pretrain import PretrainConfig
    from colormae.pretrain.run import pretrain

    return pretrain(PretrainConfig(
        out=out, model="mae_vit_micro_32px", data="mnist5k", num_workers=0, masking="random", epochs=1,
        max_steps=TOTAL, batch_size=4, warmup_epochs=0.001, lr=1e-3, amp="none", ckpt_every=2, log_every=1,
        device="cpu", progress=False, resume="auto" if resume else None))


def _env(rank: int, world: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world), COLORMAE_DIST_TIMEOUT="30")
    torch.set_num_threads(1)


def _straight(rank: int, world: int, port: int, out: str) -> None:
    _env(rank, world, port)
    model = _pretrain(os.path.join(out, "a"), resume=False).model
    torch.save(model.state_dict(), os.path.join(out, "a", f"rank{rank}.pt"))


def _killed(rank: int, world: int, port: int, out: str) -> None:
    _env(rank, world, port)
    if rank == 1:
        real, calls = torch.optim.AdamW.step, {"n": 0}

        def step_then_die(self, *args, **kwargs):
            result = real(self, *args, **kwargs)
            calls["n"] += 1
            if calls["n"] == KILL_AT:
                with open(os.path.join(out, "killed_at.txt"), "w") as fh:
                    fh.write(repr(time.time()))
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        torch.optim.AdamW.step = step_then_die
    from colormae.train.distributed import LostRank

    try:
        _pretrain(os.path.join(out, "b"), resume=False)
    except LostRank as err:
        with open(os.path.join(out, f"lost{rank}.txt"), "w") as fh:
            fh.write(f"{time.time()!r}\n{err}")


def _resumed(rank: int, world: int, port: int, out: str) -> None:
    _env(rank, world, port)
    model = _pretrain(os.path.join(out, "b"), resume=True).model
    torch.save(model.state_dict(), os.path.join(out, "b", f"rank{rank}.pt"))


def test_a_killed_rank_ends_the_job_in_one_line_and_resume_is_exact(tmp_path, free_port):
    out = str(tmp_path)
    mp.start_processes(_straight, args=(2, free_port(), out), nprocs=2, join=True, start_method="spawn")
    ctx = mp.start_processes(_killed, args=(2, free_port(), out), nprocs=2, join=False, start_method="spawn")
    ctx.processes[1].join(timeout=300)
    assert ctx.processes[1].exitcode == -signal.SIGKILL
    ctx.processes[0].join(timeout=90)
    assert not ctx.processes[0].is_alive(), "rank 0 did not leave"
    left_at, message = (tmp_path / "lost0.txt").read_text().split("\n", 1)
    assert float(left_at) - float((tmp_path / "killed_at.txt").read_text()) < 60  # COLORMAE_DIST_TIMEOUT=30
    assert "\n" not in message
    assert message.startswith("rank 0 of 2 at step "), message
    died = ": rank 1 died (killed, out of host memory or its machine lost: its heartbeat stopped); "
    assert died in message, message
    assert "the last good checkpoint is " in message and message.endswith("restart the job with --resume")
    mp.start_processes(_resumed, args=(2, free_port(), out), nprocs=2, join=True, start_method="spawn")
    for rank in (0, 1):
        a = torch.load(tmp_path / "a" / f"rank{rank}.pt", weights_only=True)
        b = torch.load(tmp_path / "b" / f"rank{rank}.pt", weights_only=True)
        assert all(torch.equal(a[k], b[k]) for k in a), rank


def _failing(rank: int, world: int, port: int, out: str) -> None:
    _env(rank, world, port)
    if rank == 1:
        real, calls = torch.optim.AdamW.step, {"n": 0}

        def step_then_fail(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 3:
                raise ValueError("bad batch on this rank")
            return real(self, *args, **kwargs)

        torch.optim.AdamW.step = step_then_fail
    from colormae.train.distributed import LostRank

    try:
        _pretrain(os.path.join(out, "c"), resume=False)
    except LostRank as err:
        with open(os.path.join(out, f"lost{rank}.txt"), "w") as fh:
            fh.write(str(err))
    except ValueError:
        pass


def test_a_rank_that_stops_on_its_own_error_is_named_with_it(tmp_path, free_port):
    ctx = mp.start_processes(_failing, args=(2, free_port(), str(tmp_path)), nprocs=2, join=False,
                             start_method="spawn")
    for proc in ctx.processes:
        proc.join(timeout=120)
        assert not proc.is_alive()
    message = (tmp_path / "lost0.txt").read_text()
    assert "\n" not in message and message.startswith("rank 0 of 2 at step "), message
    assert "rank 1 stopped on an error of its own (ValueError: bad batch on this rank)" in message
