"""Faults in training end in one line: a full disk while checkpointing, out of device memory in a step."""

from __future__ import annotations

import errno
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from toy import make_step_fn, run_toy  # noqa: E402

from colormae.files import WriteFailed  # noqa: E402
from colormae.train import checkpoint as ckpt_io  # noqa: E402
from colormae.train.loop import OutOfMemory  # noqa: E402


def test_disk_full_at_a_checkpoint_names_the_file_and_keeps_the_last_good_one(tmp_path, monkeypatch):
    real = torch.save
    calls = {"n": 0}

    def save_until_full(obj, fh, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the second checkpoint (step 8): the disk is full
            fh.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, fh, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_full)
    with pytest.raises(WriteFailed) as info:
        run_toy(tmp_path, total=12, accum=1, ckpt_every=4)
    message = str(info.value)
    good = tmp_path / "checkpoints" / ckpt_io.checkpoint_name(4)
    assert "\n" not in message
    assert message.startswith(f"cannot write {tmp_path / 'checkpoints' / ckpt_io.checkpoint_name(8)}: "
                              "no space left on device (")
    assert "MB free on " in message and f"the last good checkpoint is {good}" in message
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == [good.name]  # no partial file
    monkeypatch.setattr(torch, "save", real)
    _, result = run_toy(tmp_path, total=12, accum=1, ckpt_every=4, resume=True)  # space freed: resume
    assert result.step == 12


def test_out_of_memory_in_a_step_is_one_line_of_advice(tmp_path):
    inner = make_step_fn(torch.Generator().manual_seed(7))

    def step_fn(model, batch, step):
        if step == 5:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return inner(model, batch, step)

    with pytest.raises(OutOfMemory) as info:
        run_toy(tmp_path, total=12, accum=2, ckpt_every=4, step_fn=step_fn)
    message = str(info.value)
    assert "\n" not in message and message.startswith("out of cpu memory in step 6 (peak ")
    assert "batch_size=8 per process, accum_steps=2" in message
    assert "lower batch_size and raise accum_steps" in message and "grad_checkpointing=true" in message
    good = tmp_path / "checkpoints" / ckpt_io.checkpoint_name(4)
    assert message.endswith(f"the last good checkpoint is {good}")


def test_resume_with_another_length_warns_it_is_not_bit_exact(tmp_path, capsys):
    run_toy(tmp_path, total=12, accum=1, ckpt_every=4, stop_at=8)
    capsys.readouterr()
    run_toy(tmp_path, total=12, accum=1, ckpt_every=4, resume=True)  # the same length: silent
    assert "warning" not in capsys.readouterr().err
    run_toy(tmp_path / "b", total=12, accum=1, ckpt_every=4, stop_at=8)
    capsys.readouterr()
    _, result = run_toy(tmp_path / "b", total=20, accum=1, ckpt_every=4, resume=True)
    err = capsys.readouterr().err
    assert result.step == 20
    assert "saved in a run of 12 steps, now 20 (max_steps or epochs changed)" in err
    assert "no longer bit-exact" in err
