"""Stopping on SIGINT / SIGTERM: only at step boundaries, a save no signal can cut short, exact resume."""

from __future__ import annotations

import os
import signal

import pytest
import torch
from toy import NoisyPoints, assert_identical, run_toy, weights

from colormae.train import checkpoint as ckpt_io
from colormae.train.signals import FORCE_AFTER, ForcedQuit, StopSignals, TrainingInterrupted


def _signal_after_optimizer_step(at_call: int, signum: int):
    """An optimizer hook: the ``at_call``-th ``opt.step()`` updates the weights, then the signal arrives."""

    def hook(opt):
        real = opt.step
        calls = {"n": 0}

        def step_then_signal(*args, **kwargs):
            out = real(*args, **kwargs)
            calls["n"] += 1
            if calls["n"] == at_call:  # weights updated, step counter not yet: the old split point
                os.kill(os.getpid(), signum)
            return out

        opt.step = step_then_signal

    return hook


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_between_optimizer_step_and_counter_resumes_exactly(tmp_path, signum):
    straight, _ = run_toy(tmp_path / "a", total=10, accum=2, ckpt_every=0)
    with pytest.raises(TrainingInterrupted, match="at step 5"):
        run_toy(tmp_path / "b", total=10, accum=2, ckpt_every=0,
                optimizer_hook=_signal_after_optimizer_step(5, signum))
    assert [p.name for p in ckpt_io.list_checkpoints(tmp_path / "b")] == [ckpt_io.checkpoint_name(5)]
    torch.manual_seed(123)
    resumed, result = run_toy(tmp_path / "b", total=10, accum=2, ckpt_every=0, resume=True)
    assert result.step == 10
    assert_identical(weights(straight), weights(resumed))


def test_signals_during_the_save_do_not_abort_it(tmp_path, monkeypatch):
    from colormae.train import signals

    monkeypatch.setattr(signals, "PRESS_GAP", 0.0)  # the Ctrl-Cs below would force a quit outside a save
    real_save = ckpt_io.save_checkpoint
    sent = {"n": 0}

    def save_under_fire(path, payload):
        for signum in [signal.SIGTERM] + [signal.SIGINT] * FORCE_AFTER:  # torchrun's second SIGTERM, Ctrl-Cs
            os.kill(os.getpid(), signum)
            sent["n"] += 1
        return real_save(path, payload)

    monkeypatch.setattr(ckpt_io, "save_checkpoint", save_under_fire)
    with pytest.raises(TrainingInterrupted, match="at step 3"):
        run_toy(tmp_path, total=10, accum=1, ckpt_every=3)  # the step-3 save gets the signals
    assert sent["n"] == 1 + FORCE_AFTER
    names = [p.name for p in ckpt_io.list_checkpoints(tmp_path)]
    assert names == [ckpt_io.checkpoint_name(3)]
    assert ckpt_io.load_checkpoint(tmp_path)["step"] == 3
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))


def test_third_ctrl_c_outside_a_save_forces_a_quit(monkeypatch):
    from colormae.train import signals

    stop = StopSignals()
    with stop:  # two SIGINTs at once (terminal + torchrun forwarding) are one press
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.count == 2 and stop._ints == 1
    monkeypatch.setattr(signals, "PRESS_GAP", 0.0)  # every SIGINT below is a separate press
    stop = StopSignals()
    with stop:
        for _ in range(FORCE_AFTER - 1):
            os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested and stop.name == "SIGINT"
        with stop.saving():
            os.kill(os.getpid(), signal.SIGINT)  # ignored while saving
        with pytest.raises(ForcedQuit):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class _PidPoints(NoisyPoints):
    """NoisyPoints whose samples also carry the pid of the process that loaded them."""

    def __getitem__(self, i):
        x, y = super().__getitem__(i)
        return x, y, os.getpid()


def test_loader_workers_survive_the_stop_signals(tmp_path):
    """Ctrl-C and a scheduler's SIGTERM reach the loader workers too: they ignore them, so the batches
    still needed until the step boundary arrive and the main process saves."""
    from toy import make_step_fn

    gen = torch.Generator().manual_seed(7)
    inner = make_step_fn(gen)
    calls = {"n": 0}

    def step_fn(model, batch, step):
        x, y, pids = batch
        calls["n"] += 1
        if calls["n"] == 1:  # the worker has read ahead 2 batches at most: later ones need it alive
            worker = int(pids[0])
            assert worker != os.getpid()
            for signum in [signal.SIGTERM] + [signal.SIGINT] * FORCE_AFTER:
                os.kill(worker, signum)
        if calls["n"] == 6:
            os.kill(os.getpid(), signal.SIGTERM)
        return inner(model, (x, y), step)

    with pytest.raises(TrainingInterrupted, match="at step 6"):
        run_toy(tmp_path, total=10, accum=1, ckpt_every=0, step_fn=step_fn, gen=gen, dataset=_PidPoints(),
                num_workers=1)
    assert [p.name for p in ckpt_io.list_checkpoints(tmp_path)] == [ckpt_io.checkpoint_name(6)]
