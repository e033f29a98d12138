"""The generic engine: learning, exact resume, Ctrl-C checkpoints, keep-last-K, run-dir safety."""

from __future__ import annotations

import json

import pytest
import torch
from toy import NoisyPoints, TinyNet, assert_identical, make_step_fn, run_toy, weights

from colormae.errors import UserError
from colormae.train import checkpoint as ckpt_io
from colormae.train.engine import fit
from colormae.train.loader import build_train_loader
from colormae.train.optim import build_adamw
from colormae.train.schedule import WarmupCosine


def test_loss_falls(tmp_path):
    model, result = run_toy(tmp_path, total=40, accum=1, ckpt_every=0, lr=5e-2)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 41))
    assert set(rows[0]) >= {"step", "epoch", "loss", "lr", "img_per_s", "peak_mem_mb", "keep"}
    first, last = sum(r["loss"] for r in rows[:5]) / 5, sum(r["loss"] for r in rows[-5:]) / 5
    assert last < 0.3 * first
    assert rows[0]["epoch"] == pytest.approx(1 / 8)  # 64 points / batch 8 = 8 steps per epoch
    assert (tmp_path / "config.yaml").is_file() and (tmp_path / "tb").is_dir()
    assert result.step == 40 and result.checkpoint == ckpt_io.latest_checkpoint(tmp_path)


def test_resume_is_bit_exact(tmp_path):
    """2N steps straight == N steps, a fresh process state, then resume for N more (crossing an epoch)."""
    straight, _ = run_toy(tmp_path / "a", total=12, accum=2)  # 4 steps / epoch with accum 2
    run_toy(tmp_path / "b", total=12, accum=2, stop_at=6)
    assert ckpt_io.latest_checkpoint(tmp_path / "b").name == ckpt_io.checkpoint_name(6)
    torch.manual_seed(999)  # whatever the process did in between must not matter
    resumed, result = run_toy(tmp_path / "b", total=12, accum=2, resume=True)
    assert result.step == 12
    assert_identical(weights(straight), weights(resumed))
    loss_a = [json.loads(x)["loss"] for x in (tmp_path / "a/metrics.jsonl").read_text().splitlines()]
    loss_b = [json.loads(x)["loss"] for x in (tmp_path / "b/metrics.jsonl").read_text().splitlines()]
    assert loss_a == loss_b


def test_ctrl_c_saves_and_resumes_exactly(tmp_path):
    straight, _ = run_toy(tmp_path / "a", total=10, accum=2, ckpt_every=0)
    gen_calls = {"n": 0}

    def interrupting(model, batch, step):
        gen_calls["n"] += 1
        if gen_calls["n"] == 12:  # second micro-batch of step 5: mid-accumulation
            raise KeyboardInterrupt
        return inner(model, batch, step)

    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(7)
    inner = make_step_fn(gen)
    with pytest.raises(KeyboardInterrupt):
        # run_toy builds its own generator; rebuild here so the interrupting step_fn uses the saved one
        model = TinyNet()
        loader = build_train_loader(NoisyPoints(), batch_size=8, seed=3, num_workers=0)
        fit(model, loader, interrupting, build_adamw(model, 1e-2), WarmupCosine(1e-2, 2, 10), epochs=100,
            max_steps=10, accum_steps=2, grad_clip=1.0, out_dir=tmp_path / "b", ckpt_every=0, log_every=1,
            generators={"mask": gen}, payload={"kind": "pretrain"}, progress=False)
    assert [p.name for p in ckpt_io.list_checkpoints(tmp_path / "b")] == [ckpt_io.checkpoint_name(5)]
    resumed, _ = run_toy(tmp_path / "b", total=10, accum=2, ckpt_every=0, resume=True)
    assert_identical(weights(straight), weights(resumed))


def test_keep_last_and_final_checkpoint(tmp_path):
    run_toy(tmp_path, total=11, accum=1, ckpt_every=2, keep_last=2)
    names = [p.name for p in ckpt_io.list_checkpoints(tmp_path)]
    assert names == [ckpt_io.checkpoint_name(10), ckpt_io.checkpoint_name(11)]
    ckpt = torch.load(tmp_path / "checkpoints" / names[-1], weights_only=True)
    assert ckpt["step"] == 11 and ckpt["kind"] == "pretrain" and ckpt["format"] == ckpt_io.FORMAT
    assert len(ckpt["rng"]["ranks"]) == 1 and "mask" in ckpt["rng"]["ranks"][0]["generators"]
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))


def test_existing_run_needs_resume(tmp_path):
    run_toy(tmp_path, total=2, accum=1)
    with pytest.raises(UserError, match="--resume"):
        run_toy(tmp_path, total=2, accum=1)


def test_resume_of_a_finished_run_does_nothing(tmp_path):
    model, _ = run_toy(tmp_path, total=3, accum=1)
    again, result = run_toy(tmp_path, total=3, accum=1, resume=tmp_path)
    assert result.step == 3
    assert_identical(weights(model), weights(again))


def test_bad_amp_and_tiny_dataset(tmp_path):
    model = TinyNet()
    loader = build_train_loader(NoisyPoints(n=4), batch_size=8, seed=0, num_workers=0)
    with pytest.raises(UserError, match="too small"):
        fit(model, loader, make_step_fn(torch.Generator()), build_adamw(model, 1e-3),
            WarmupCosine(1e-3, 0, 1), epochs=1, progress=False)
    with pytest.raises(UserError, match="fp16"):
        fit(model, loader, make_step_fn(torch.Generator()), build_adamw(model, 1e-3),
            WarmupCosine(1e-3, 0, 1), epochs=1, amp="fp16", progress=False)


def test_sigterm_saves_a_checkpoint(tmp_path):
    """SIGTERM mid-step: the step finishes, is saved, and resuming from it is bit-exact."""
    import os
    import signal

    from colormae.train.signals import TrainingInterrupted

    straight, _ = run_toy(tmp_path / "a", total=10, accum=1, ckpt_every=0)
    calls = {"n": 0}
    gen = torch.Generator().manual_seed(7)
    inner = make_step_fn(gen)

    def terminated(model, batch, step):
        calls["n"] += 1
        if calls["n"] == 4:
            os.kill(os.getpid(), signal.SIGTERM)  # e.g. a cluster's time limit, during step 4
        return inner(model, batch, step)

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted, match="SIGTERM at step 4"):
        run_toy(tmp_path / "b", total=10, accum=1, ckpt_every=0, step_fn=terminated, gen=gen)
    assert [p.name for p in ckpt_io.list_checkpoints(tmp_path / "b")] == [ckpt_io.checkpoint_name(4)]
    assert signal.getsignal(signal.SIGTERM) is before
    resumed, _ = run_toy(tmp_path / "b", total=10, accum=1, ckpt_every=0, resume=True)
    assert_identical(weights(straight), weights(resumed))
