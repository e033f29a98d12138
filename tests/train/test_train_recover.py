"""on_diverge=recover: a non-finite loss rolls the run back to its last good state and it goes on."""

from __future__ import annotations

import pytest
import torch
from toy import make_step_fn, run_toy

from colormae.cli import main
from colormae.train import checkpoint as ckpt_io
from colormae.train.engine import fit
from colormae.train.finite import TrainingDiverged
from colormae.train.metrics import read_metrics
from colormae.train.recover import Recovery, Snapshot


def _all_finite(run_dir) -> bool:
    paths = ckpt_io.list_checkpoints(run_dir)
    return bool(paths) and all(not ckpt_io.nonfinite_tensors(torch.load(p, weights_only=True)["model"])
                               for p in paths)


def _poisoned(gen, bad_steps, once=True):
    """The toy step function, NaN at the 0-based step indices ``bad_steps`` (the first time only)."""
    inner, seen = make_step_fn(gen), set()

    def step_fn(model, batch, step):
        loss, extra = inner(model, batch, step)
        if step in bad_steps and not (once and step in seen):
            seen.add(step)
            return loss * float("nan"), extra
        return loss, extra

    return step_fn


def _run(out, step_fn, gen, **kw):
    """run_toy with recovery on (run_toy takes no engine keywords: patch them in)."""
    import toy

    real = toy.fit

    def with_recovery(*args, **kwargs):
        return real(*args, **kwargs, on_diverge="recover", **kw)

    toy.fit = with_recovery
    try:
        return run_toy(out, total=16, accum=1, ckpt_every=4, keep_last=0, log_every=1, step_fn=step_fn,
                       gen=gen)
    finally:
        toy.fit = real


def test_one_nan_step_is_rolled_back_skipped_and_logged(tmp_path):
    gen = torch.Generator().manual_seed(7)
    _, result = _run(tmp_path / "rec", _poisoned(gen, {6}), gen)  # index 6: the 7th step
    assert result.step == 16
    assert [r["remedy"] for r in result.recoveries] == ["skip_batch"]
    assert result.recoveries[0]["diverged_at"] == 7 and result.recoveries[0]["step"] == 4
    records = read_metrics(tmp_path / "rec")
    losses = [r for r in records if "loss" in r]
    events = [r for r in records if "remedy" in r]
    assert len(events) == 1 and events[0]["step"] == 4
    steps = [r["step"] for r in losses]
    assert steps == [s for s in range(1, 17) if s != 7]  # no step twice; the skipped step has no loss
    assert _all_finite(tmp_path / "rec")
    assert [p.name for p in ckpt_io.list_checkpoints(tmp_path / "rec")] == [
        ckpt_io.checkpoint_name(s) for s in (4, 8, 12, 16)]
    # the rollback is exact: steps 5 and 6, trained again after it, log the losses of a run that never failed
    clean_gen = torch.Generator().manual_seed(7)
    run_toy(tmp_path / "clean", total=16, accum=1, ckpt_every=4, log_every=1, gen=clean_gen)
    clean = {r["step"]: r["loss"] for r in read_metrics(tmp_path / "clean") if "loss" in r}
    mine = {r["step"]: r["loss"] for r in losses}
    assert all(mine[s] == clean[s] for s in (1, 2, 3, 4, 5, 6))
    assert mine[8] != clean[8]  # step 7 was skipped: the run went on from step 6's weights


def test_remedies_escalate_then_the_run_stops_with_the_usual_message(tmp_path):
    gen = torch.Generator().manual_seed(7)
    with pytest.raises(TrainingDiverged) as err:
        _run(tmp_path, _poisoned(gen, {6, 9}, once=False), gen, max_recoveries=3, recover_lr_factor=0.25)
    message = str(err.value)
    assert "after 3 recoveries" in message and "not finite at step 10" in message
    assert ckpt_io.checkpoint_name(8) in message
    events = [r for r in read_metrics(tmp_path) if "remedy" in r]
    assert [(e["remedy"], e["diverged_at"], e["step"]) for e in events] == [
        ("skip_batch", 7, 4), ("lower_lr", 10, 8), ("fp32", 10, 8)]
    assert [e["lr_factor"] for e in events] == [1.0, 0.25, 0.0625]
    assert _all_finite(tmp_path)
    lr8 = [r["lr"] for r in read_metrics(tmp_path) if r.get("step") == 9 and "loss" in r]
    assert lr8 and lr8[-1] > 0  # step 9 was trained again after the rollback to 8, at the lowered lr


def test_lowered_lr_is_applied_and_saved_for_resume(tmp_path):
    """lower_lr multiplies every group's lr; the factor is in later checkpoints and a resume keeps it."""
    gen = torch.Generator().manual_seed(7)
    _, result = _run(tmp_path, _poisoned(gen, {6, 9}), gen)  # each bad once: skip at 7, lower lr at 10
    assert [r["remedy"] for r in result.recoveries] == ["skip_batch", "lower_lr"]
    lrs = {r["step"]: r["lr"] for r in read_metrics(tmp_path) if "loss" in r}
    from colormae.train.schedule import WarmupCosine

    schedule = WarmupCosine(1e-2, 2, 16)
    assert lrs[8] == pytest.approx(schedule(7))  # before the rollback to 8: as scheduled
    assert lrs[12] == pytest.approx(0.5 * schedule(11))
    state = torch.load(ckpt_io.list_checkpoints(tmp_path)[-1], weights_only=True)
    assert state["recovery"]["lr_factor"] == 0.5 and len(state["recovery"]["records"]) == 2
    # resumed from step 12 with the default on_diverge=stop: the lowered lr goes on, the records stay
    _, resumed = run_toy(tmp_path, total=16, accum=1, ckpt_every=4, keep_last=0, log_every=1,
                         resume=ckpt_io.list_checkpoints(tmp_path)[2])
    again = {r["step"]: r["lr"] for r in read_metrics(tmp_path) if "loss" in r}
    assert again[13] == lrs[13] == pytest.approx(0.5 * schedule(12)) and len(resumed.recoveries) == 2
    assert [r["remedy"] for r in read_metrics(tmp_path) if "remedy" in r] == ["skip_batch", "lower_lr"]


def test_snapshot_restores_in_place_state_and_survives_a_second_rollback():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    ema = {"w": model.weight.detach().clone()}
    snap = Snapshot.take(1, model, opt, torch.amp.GradScaler("cuda", enabled=False), {}, ema)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    exp_avg = opt.state[model.weight]["exp_avg"].clone()
    for _ in range(2):  # two rollbacks to the same snapshot: the first must not spoil it
        model(torch.randn(4, 3)).sum().backward()
        opt.step()
        ema["w"].add_(1.0)
        snap.restore(model, opt, torch.amp.GradScaler("cuda", enabled=False), ema)
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        assert torch.equal(opt.state[model.weight]["exp_avg"], exp_avg)
        assert torch.equal(ema["w"], before["weight"])


def test_recovery_plan_is_bounded():
    rec = Recovery(max_recoveries=2, lr_factor_step=0.1)
    assert rec.plan(5, 4, "x")["remedy"] == "skip_batch" and rec.skip_steps == {5}
    assert rec.plan(9, 8, "y")["remedy"] == "lower_lr" and rec.lr_factor == pytest.approx(0.1)
    assert not rec.can_recover()
    again = Recovery(2, 0.1)
    again.load_state_dict(rec.state_dict())
    assert again.state_dict() == rec.state_dict()


def test_recover_without_out_dir_rolls_back_to_the_start():
    """No run folder, no checkpoint: the snapshot of the start is the rollback point."""
    from toy import NoisyPoints, TinyNet

    from colormae.train.loader import build_train_loader
    from colormae.train.optim import build_adamw
    from colormae.train.schedule import WarmupCosine

    torch.manual_seed(0)
    model = TinyNet()
    gen = torch.Generator().manual_seed(7)
    loader = build_train_loader(NoisyPoints(), batch_size=8, seed=3, num_workers=0)
    result = fit(model, loader, _poisoned(gen, {2}), build_adamw(model, 1e-2), WarmupCosine(1e-2, 2, 8),
                 epochs=None, max_steps=8, log_every=4, ckpt_every=0, generators={"mask": gen},
                 progress=False, on_diverge="recover")
    assert result.step == 8 and [(r["step"], r["diverged_at"]) for r in result.recoveries] == [(0, 3)]
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_cli_recover_finishes_a_run_that_stop_would_end(tmp_path, capsys, monkeypatch):
    """The pretrain job with one injected NaN: on_diverge=recover finishes and reports the recovery."""
    import colormae.models.mae as mae_module

    real_forward, calls = mae_module.MaskedAutoencoder.forward, {"n": 0}

    def forward(self, *args, **kwargs):
        out = real_forward(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 6:  # the 6th forward (step 6) once
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(mae_module.MaskedAutoencoder, "forward", forward)
    out = tmp_path / "run"
    args = ["pretrain", "--out", str(out), "model=mae_vit_micro_32px", "data=mnist5k", "batch_size=8",
            "num_workers=0", "log_every=2", "ckpt_every=4", "max_steps=10", "bank_size=16", "pattern_size=16",
            "--no-progress", "on_diverge=recover"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "done: 10 steps" in captured.out and "recovery 1: the loss is not finite at step 6" in captured.out
    assert "recovery 1/3" in captured.err
    events = [r for r in read_metrics(out) if "remedy" in r]
    assert [(e["step"], e["diverged_at"], e["remedy"]) for e in events] == [(4, 6, "skip_batch")]
    assert _all_finite(out)
