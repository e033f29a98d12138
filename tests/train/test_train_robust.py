"""Nothing lost, nothing silent: divergence, crashes mid-write, truncated checkpoints, metrics on resume."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
from toy import assert_identical, make_step_fn, run_toy, weights

from colormae.cli import main
from colormae.errors import UserError
from colormae.train import checkpoint as ckpt_io
from colormae.train.finite import NonFiniteTracker, TrainingDiverged
from colormae.train.metrics import read_metrics, records_up_to, truncate_metrics


def _all_finite(run_dir) -> bool:
    return all(not ckpt_io.nonfinite_tensors(torch.load(p, weights_only=True)["model"])
               for p in ckpt_io.list_checkpoints(run_dir))


def test_nan_between_logs_is_caught_before_the_next_checkpoint(tmp_path):
    """NaN at step 7 with log_every=10, ckpt_every=3: step 9 is never saved, step 6 is never pruned."""
    gen = torch.Generator().manual_seed(7)
    inner = make_step_fn(gen)

    def poisoned(model, batch, step):
        loss, extra = inner(model, batch, step)
        return (loss * float("nan") if step == 6 else loss), extra  # step index 6 = the 7th step

    with pytest.raises(TrainingDiverged) as err:
        run_toy(tmp_path, total=30, accum=1, ckpt_every=3, keep_last=1, log_every=10, step_fn=poisoned,
                gen=gen)
    message = str(err.value)
    assert "not finite at step 7" in message and ckpt_io.checkpoint_name(6) in message
    assert "\n" not in message
    assert [p.name for p in ckpt_io.list_checkpoints(tmp_path)] == [ckpt_io.checkpoint_name(6)]
    assert _all_finite(tmp_path)
    assert [r["step"] for r in read_metrics(tmp_path)] == []  # the step-10 log never came


def test_tracker_records_without_syncing_and_keeps_the_first_bad_step():
    tracker = NonFiniteTracker("cpu")
    for step, value in enumerate([1.0, 2.0, float("inf"), 3.0, float("nan")], start=1):
        tracker.record(torch.tensor(value), step)
    assert tracker.first_bad_step() == 3
    fresh = NonFiniteTracker("cpu")
    fresh.record(torch.tensor(0.5), 1)
    assert fresh.first_bad_step() is None


def test_cli_diverging_run_stops_with_one_line_and_finite_checkpoints(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["pretrain", "--out", str(out), "model=mae_vit_micro_32px", "data=mnist5k", "batch_size=8",
                 "num_workers=0", "lr=1e6", "log_every=10", "ckpt_every=3", "max_steps=30", "bank_size=16",
                 "pattern_size=16", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "training diverged" in lines[0] and "at step" in lines[0]
    assert "Traceback" not in err and "FloatingPointError" not in err
    saved = ckpt_io.list_checkpoints(out)
    assert _all_finite(out)
    assert (str(saved[-1]) in lines[0]) if saved else ("no checkpoint was saved" in lines[0])
    # diverging before any checkpoint: the same one line, and the run folder is kept (it did train)
    early = tmp_path / "early"
    assert main(["pretrain", "--out", str(early), "model=mae_vit_micro_32px", "data=mnist5k", "batch_size=8",
                 "num_workers=0", "lr=1e6", "log_every=5", "ckpt_every=0", "max_steps=30", "bank_size=16",
                 "pattern_size=16", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "training diverged" in err and "no checkpoint was saved" in err and "Traceback" not in err
    assert (early / "config.yaml").is_file() and not ckpt_io.list_checkpoints(early)


def test_evaluation_refuses_non_finite_weights(tmp_path, capsys):
    from dataclasses import asdict

    from colormae.models import create_mae

    model = create_mae("mae_vit_micro_32px")
    state = model.state_dict()
    state["decoder_pred.weight"][0, 0] = float("nan")
    path = ckpt_io.save_checkpoint(tmp_path / "nan.pt", {"kind": "pretrain", "model": state, "step": 9,
                                                         "model_config": asdict(model.config)})
    with pytest.raises(ckpt_io.NonFiniteCheckpoint, match="decoder_pred.weight"):
        ckpt_io.load_checkpoint(path)
    import colormae

    with pytest.raises(UserError, match="decoder_pred.weight"):
        colormae.load(path)
    assert main(["knn", str(path), "--data", "mnist5k", "--no-progress", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not finite" in err and err.count("\n") == 1
    ckpt_io.require_finite(create_mae("mae_vit_micro_32px").state_dict(), "fine")  # finite: no error


def test_stale_temporary_from_a_killed_write_is_removed(tmp_path):
    run_toy(tmp_path, total=4, accum=1, ckpt_every=2)
    script = textwrap.dedent(f"""
        import os, signal, torch
        from colormae.train import checkpoint as ckpt_io
        os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)  # dies after the bytes, before the rename
        ckpt_io.save_checkpoint({str(tmp_path / "checkpoints" / ckpt_io.checkpoint_name(6))!r},
                                {{"model": {{"w": torch.zeros(1000)}}}})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    stale = list((tmp_path / "checkpoints").glob(".step-*.tmp"))
    assert len(stale) == 1 and stale[0].stat().st_size > 0
    assert ckpt_io.latest_checkpoint(tmp_path).name == ckpt_io.checkpoint_name(4)  # the kill lost nothing
    _, result = run_toy(tmp_path, total=6, accum=1, ckpt_every=2, resume=True)
    assert result.step == 6
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))


def test_truncated_newest_checkpoint_falls_back_to_the_previous(tmp_path):
    straight, _ = run_toy(tmp_path / "a", total=12, accum=1, ckpt_every=2)
    run_toy(tmp_path / "b", total=12, accum=1, ckpt_every=2, stop_at=8)
    newest = ckpt_io.latest_checkpoint(tmp_path / "b")
    assert newest.name == ckpt_io.checkpoint_name(8)
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])  # a disk-full or a copy cut short
    with pytest.warns(UserWarning, match="falling back"):
        resumed, result = run_toy(tmp_path / "b", total=12, accum=1, ckpt_every=2, resume=True)
    assert result.step == 12
    assert_identical(weights(straight), weights(resumed))  # steps 7-8 redone exactly from step 6
    assert (newest.parent / (newest.name + ckpt_io.CORRUPT_SUFFIX)).is_file()  # kept aside, not deleted
    assert [r["step"] for r in read_metrics(tmp_path / "b")] == list(range(1, 13))


def test_explicit_truncated_file_is_one_clear_error(tmp_path):
    run_toy(tmp_path, total=2, accum=1, ckpt_every=2)
    path = ckpt_io.latest_checkpoint(tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ckpt_io.CorruptCheckpoint, match="truncated") as err:
        ckpt_io.load_checkpoint(path)
    assert "trusted" not in str(err.value) and "\n" not in str(err.value)


def test_metrics_are_cut_back_to_the_resumed_step(tmp_path):
    """Logged to step 10, last checkpoint at 8 (killed before the next): steps 9-10 are not repeated."""
    straight, _ = run_toy(tmp_path / "a", total=12, accum=1, ckpt_every=4)
    run_toy(tmp_path / "b", total=12, accum=1, ckpt_every=4, stop_at=10)
    (tmp_path / "b" / "checkpoints" / ckpt_io.checkpoint_name(10)).unlink()  # as if SIGKILLed before it
    with open(tmp_path / "b" / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 11, "loss": 0.')  # and torn mid-line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resumed, _ = run_toy(tmp_path / "b", total=12, accum=1, ckpt_every=4, resume=True)
    rows_a, rows_b = read_metrics(tmp_path / "a"), read_metrics(tmp_path / "b")
    assert [r["step"] for r in rows_b] == list(range(1, 13))
    assert [r["loss"] for r in rows_a] == [r["loss"] for r in rows_b]
    assert_identical(weights(straight), weights(resumed))


def test_truncate_metrics_keeps_records_without_a_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [{"step": 1}, {"note": "x"}, {"step": 2}, {"step": 3}]))
    assert truncate_metrics(path, 1) == 2
    assert read_metrics(path) == [{"step": 1}, {"note": "x"}]
    assert truncate_metrics(tmp_path / "missing.jsonl", 0) == 0


def test_read_metrics_leaves_out_a_torn_last_line(tmp_path):
    """A run killed mid-write and never resumed: its records read, the torn last one left out."""
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.4}\n{"step": 3, "lo')
    assert read_metrics(path) == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}]
    path.write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "lo\n{"step": 3, "loss": 0.3}\n')
    with pytest.raises(json.JSONDecodeError):  # a bad line inside is not a crash's torn tail
        read_metrics(path)
    kept, lines, dropped = records_up_to(path, 3)  # a log about to be rewritten: the bad line goes
    assert kept == [{"step": 1, "loss": 0.5}, {"step": 3, "loss": 0.3}] and dropped == 1
    assert lines == ['{"step": 1, "loss": 0.5}\n', '{"step": 3, "loss": 0.3}\n']


def test_checkpoints_and_banks_get_ordinary_permissions(tmp_path):
    """Atomic writes go through mkstemp (0600); the files they leave are 0666 & ~umask like any other."""
    import os

    from colormae.noise import PatternBank
    from colormae.train.checkpoint import save_checkpoint

    mask = os.umask(0o022)
    try:
        ckpt = save_checkpoint(tmp_path / "c.pt", {"step": 1})
        bank = PatternBank.generate("green", 2, 8, seed=0).save(tmp_path / "b.npz")
    finally:
        os.umask(mask)
    assert (ckpt.stat().st_mode & 0o777) == 0o644 and (bank.stat().st_mode & 0o777) == 0o644
