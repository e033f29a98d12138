"""The pretraining job and its CLI, end to end on a micro MAE: outputs, exact resume, errors."""

from __future__ import annotations

import json

import pytest
import torch

from colormae import load
from colormae.cli import main
from colormae.config import load_config
from colormae.jobs.pretrain import PretrainConfig
from colormae.pretrain.run import pretrain, split_schedule
from colormae.train import checkpoint as ckpt_io

TINY = ["model=mae_vit_micro_32px", "data=mnist5k", "num_workers=0", "bank_size=16", "pattern_size=16",
        "batch_size=8", "epochs=1", "warmup_epochs=0", "lr=1e-3", "log_every=1"]


def test_cli_writes_a_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["pretrain", "--out", str(out), "--no-progress", *TINY, "max_steps=4", "ckpt_every=2",
                 "keep_last=1"]) == 0
    assert "done: 4 steps" in capsys.readouterr().out
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(r["loss"] > 0 and r["img_per_s"] > 0 and r["peak_mem_mb"] > 0 for r in rows)
    assert list((out / "tb").iterdir())  # TensorBoard event file
    assert [p.name for p in ckpt_io.list_checkpoints(out)] == [ckpt_io.checkpoint_name(4)]
    assert "model: mae_vit_micro_32px" in (out / "config.yaml").read_text()
    loaded = load(out)
    assert loaded.kind == "pretrain" and loaded.config.embed_dim == 64
    # the same --out again without --resume: a one-line error, exit 2
    assert main(["pretrain", "--out", str(out), *TINY, "max_steps=4"]) == 2
    assert "--resume" in capsys.readouterr().err


def test_cli_rejects_bad_keys(tmp_path, capsys):
    assert main(["pretrain", "--out", str(tmp_path), "mask_ratoi=0.5"]) == 2
    assert "unknown config key 'mask_ratoi'" in capsys.readouterr().err
    assert main(["pretrain", "--out", str(tmp_path), *TINY, "masking=orange"]) == 2
    assert "orange" in capsys.readouterr().err


def test_pretrain_resume_is_bit_exact(tmp_path):
    """N steps + resume + N steps == 2N steps straight: same lr steps, data order, masks and RNG."""
    kw = dict(model="mae_vit_micro_32px", data="mnist5k", num_workers=0, bank_size=16, pattern_size=16,
              batch_size=8, epochs=1, warmup_epochs=0.001, lr=1e-3, max_steps=6, ckpt_every=0, device="cpu",
              progress=False)

    def job(out, **more):
        return load_config(PretrainConfig, values={**kw, "out": str(out), **more})

    straight = pretrain(job(tmp_path / "a")).model.state_dict()
    pretrain(job(tmp_path / "b"), stop_at_step=3)
    resumed = pretrain(job(tmp_path / "b", resume="auto")).model.state_dict()
    for k in straight:
        assert torch.equal(straight[k], resumed[k]), k


def test_split_schedule():
    assert split_schedule("green", None) == ("green", [])
    assert split_schedule("x", [[0, "green"], [10, "blue"]]) == ("green", [(10, "blue")])
    with pytest.raises(Exception, match="epoch 0"):
        split_schedule("x", [[5, "green"]])


def test_resume_takes_the_runs_config_and_refuses_changes(tmp_path, capsys):
    """`pretrain --out RUN --resume` continues from RUN's config.yaml; a changed masking is refused."""
    out = tmp_path / "run"
    assert main(["pretrain", "--out", str(out), "--no-progress", *TINY, "masking=green", "max_steps=2"]) == 0
    capsys.readouterr()
    # no model / data / masking given: all come from RUN/config.yaml (the default would be ViT-B/16)
    assert main(["pretrain", "--out", str(out), "--resume", "--no-progress", "max_steps=3"]) == 0
    assert "done: 3 steps" in capsys.readouterr().out
    assert main(["pretrain", "--out", str(out), "--resume", "masking=red", "max_steps=4"]) == 2
    err = capsys.readouterr().err
    assert "masking='red' differs from the run's masking='green'" in err and "--allow-changes" in err
    assert "masking: green" in (out / "config.yaml").read_text()  # not rewritten by the refused call
    assert main(["pretrain", "--out", str(out), "--resume", "--allow-changes", "--no-progress", "lr=2e-3",
                 "max_steps=4"]) == 0
    assert "done: 4 steps" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["pretrain"], "--out is required"),
    (["pretrain", "--out", "FILE", *TINY], "exists and is not a directory"),
    (["pretrain", "--out", "RUN", *TINY, "bank=/no/such/bank.npz"], "no/such/bank.npz"),
])
def test_user_mistakes_are_one_line_and_leave_nothing(argv, message, tmp_path, capsys):
    (tmp_path / "FILE").write_text("not a folder")
    argv = [str(tmp_path / a) if a in ("FILE", "RUN") else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "RUN").exists()  # a failed start leaves no half-made run folder
