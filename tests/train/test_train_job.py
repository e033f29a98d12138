"""The training jobs' scaffold: loop settings from a config, the epoch-long checkpoint default, eval.jsonl."""

import json
from types import SimpleNamespace

import torch

from colormae.jobs.segment import SegmentConfig
from colormae.train.distributed import DistInfo
from colormae.train.job import TrainJob
from colormae.train.loader import build_train_loader
from colormae.train.loop import FitResult


def _loader(n: int = 40, batch: int = 4):
    return build_train_loader(torch.utils.data.TensorDataset(torch.zeros(n, 1)), batch_size=batch, seed=0,
                              num_workers=0)


def test_settings_come_from_the_config(tmp_path):
    cfg = SegmentConfig(out=str(tmp_path), max_steps=7, accum_steps=2, keep_last=5, log_every=3, amp="auto")
    job = TrainJob.from_config(cfg, device=torch.device("cpu"), dist=DistInfo(), epochs=None, desc="segment",
                               ckpt_every=1000, resume=None, stop_at_step=4)
    s = job.settings
    assert (s.amp, s.max_steps, s.accum_steps, s.keep_last, s.log_every, s.ckpt_every, s.stop_at_step) == (
        "none", 7, 2, 5, 3, 1000, 4)
    assert s.out_dir == tmp_path and s.desc == "segment" and job.effective_batch == cfg.batch_size * 2
    assert job.plan(_loader(), "too small") == (5, 7)


def test_epoch_checkpoints_unless_the_config_sets_an_interval(tmp_path):
    cfg = SegmentConfig(out=str(tmp_path))
    job = TrainJob.from_config(cfg, device=torch.device("cpu"), dist=DistInfo(), epochs=3, desc="x",
                               ckpt_every=None, resume=None, stop_at_step=None)
    assert job.plan(_loader(), "too small") == (10, 30) and job.settings.ckpt_every == 10
    cfg.ckpt_every = 4
    job = TrainJob.from_config(cfg, device=torch.device("cpu"), dist=DistInfo(), epochs=3, desc="x",
                               ckpt_every=None, resume=None, stop_at_step=None)
    job.plan(_loader(), "too small")
    assert job.settings.ckpt_every == 4


def test_eval_log_and_report(tmp_path, capsys):
    cfg = SegmentConfig(out=str(tmp_path / "run"), ckpt="random:mae_vit_micro_32px", data="scenes")
    job = TrainJob.from_config(cfg, device=torch.device("cpu"), dist=DistInfo(), epochs=None, desc="x",
                               ckpt_every=1000, resume=None, stop_at_step=None)
    job.evals.add({"step": 2, "mIoU": 1.5}, "val step 2")
    assert "val step 2" in capsys.readouterr().out
    lines = (tmp_path / "run" / "eval.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"step": 2, "mIoU": 1.5}] == job.evals.history
    other = TrainJob.from_config(SimpleNamespace(**{**vars(cfg), "out": str(tmp_path / "r1")}),
                                 device=torch.device("cpu"), dist=DistInfo(rank=1, world_size=2), epochs=None,
                                 desc="x", ckpt_every=1000, resume=None, stop_at_step=None)
    other.evals.add({"step": 2}, "val step 2")  # rank 1 keeps the record and writes nothing
    assert other.evals.history == [{"step": 2}] and not (tmp_path / "r1").exists()
    report = job.report("segment", cfg, FitResult(step=9, epoch=0, loss=0.5, checkpoint=tmp_path / "c.pt"),
                        lead={"masks": True}, mode="slide")
    assert list(report) == ["eval", "checkpoint", "source", "data", "masks", "steps", "train_loss", "mode"]
    assert report["steps"] == 9 and report["source"] == "random:mae_vit_micro_32px"


def test_eval_log_resume_keeps_what_came_before_the_checkpoint(tmp_path):
    """Resumed at step 5 of 3-step epochs: the records of epochs 1 and 1.667 (= step 5, logged to three
    decimals: 5.001 steps) and of step 4 stay, in history and file; epoch 2 and a torn line go."""
    from colormae.train.job import EvalLog

    path = tmp_path / "eval.jsonl"
    path.write_text('{"epoch": 1, "top1": 10.0}\n{"step": 4, "mIoU": 1.0}\n{"epoch": 1.667, "top1": 20.0}\n'
                    '{"epoch": 2, "top1": 30.0}\n{"epoch": 2, "to')
    log = EvalLog(tmp_path, is_main=True)
    log.resume(5, steps_per_epoch=3)
    kept = [{"epoch": 1, "top1": 10.0}, {"step": 4, "mIoU": 1.0}, {"epoch": 1.667, "top1": 20.0}]
    assert log.history == kept
    assert [json.loads(line) for line in path.read_text().splitlines()] == kept
