"""Two gloo processes: SIGTERM to ONE rank mid-run stops both at the same step boundary, with a
checkpoint that holds both ranks' random state and resumes bit-exactly."""

from __future__ import annotations

import os
import signal

import pytest
import torch
import torch.multiprocessing as mp

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")

SIGNAL_AT = 3  # rank 1 gets SIGTERM right after its 3rd optimizer update
STOP_AT = 4    # the ranks' vote overlaps a step: all of them stop one boundary later
TOTAL = 6


def _pretrain(out: str, resume: bool):
    from colormae.jobs.pretrain import PretrainConfig
    from colormae.pretrain.run import pretrain

    return pretrain(PretrainConfig(
        out=out, model="mae_vit_micro_32px", data="mnist5k", num_workers=0, masking="green", bank_size=16,
        pattern_size=16, epochs=1, max_steps=TOTAL, batch_size=4, warmup_epochs=0.001, lr=1e-3, amp="none",
        ckpt_every=0, log_every=1, device="cpu", progress=False, resume="auto" if resume else None))


def _rank_main(rank: int, world: int, port: int, out: str) -> None:
    """One torchrun-like process: a straight run (a/), a run whose rank 1 gets SIGTERM (b/), its resume."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    import torch.distributed as tdist

    from colormae.train.signals import TrainingInterrupted

    tdist.init_process_group("gloo", rank=rank, world_size=world)  # one group for the three runs
    a, b = os.path.join(out, "a"), os.path.join(out, "b")
    torch.save(_pretrain(a, resume=False).model.state_dict(), os.path.join(a, f"rank{rank}.pt"))

    real = torch.optim.AdamW.step
    if rank == 1:
        calls = {"n": 0}

        def step_then_sigterm(self, *args, **kwargs):
            result = real(self, *args, **kwargs)
            calls["n"] += 1
            if calls["n"] == SIGNAL_AT:  # between the update and the step counter, on this rank only
                os.kill(os.getpid(), signal.SIGTERM)
            return result

        torch.optim.AdamW.step = step_then_sigterm
    try:
        _pretrain(b, resume=False)
    except TrainingInterrupted as stop:
        with open(os.path.join(b, f"stopped{rank}.txt"), "w") as fh:
            fh.write(str(stop))
    torch.optim.AdamW.step = real
    tdist.barrier()
    torch.manual_seed(1000 + rank)  # whatever happened in between must not matter
    torch.save(_pretrain(b, resume=True).model.state_dict(), os.path.join(b, f"rank{rank}.pt"))
    tdist.destroy_process_group()


def test_sigterm_to_one_rank_stops_all_and_resumes_exactly(tmp_path, free_port):
    mp.start_processes(_rank_main, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True,
                       start_method="spawn")
    for rank in (0, 1):  # the rank that got no signal stopped at the same boundary, and knew why
        assert (tmp_path / "b" / f"stopped{rank}.txt").read_text() == f"stopped by SIGTERM at step {STOP_AT}"
    from colormae.train import checkpoint as ckpt_io

    names = [p.name for p in ckpt_io.list_checkpoints(tmp_path / "b")]
    assert names == [ckpt_io.checkpoint_name(STOP_AT), ckpt_io.checkpoint_name(TOTAL)]
    ckpt = ckpt_io.load_checkpoint(tmp_path / "b" / "checkpoints" / names[0])
    assert ckpt["step"] == STOP_AT
    masks = [r["generators"]["mask"] for r in ckpt["rng"]["ranks"]]
    assert len(masks) == 2 and not torch.equal(masks[0], masks[1])  # both ranks' streams, not rank 0's twice
    for rank in (0, 1):
        a = torch.load(tmp_path / "a" / f"rank{rank}.pt", weights_only=True)
        b = torch.load(tmp_path / "b" / f"rank{rank}.pt", weights_only=True)
        for k in a:
            assert torch.equal(a[k], b[k]), (rank, k)
    steps = [int(line.split('"step": ')[1].split(",")[0])
             for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, TOTAL + 1))  # cut back and continued: no step twice, none backwards
