"""A tiny real sweep: pretrain (micro preset, a few steps), linear-probe, table, plot, resume, seeds."""

import csv
import json

import pytest
from PIL import Image

from colormae.config import load_config
from colormae.errors import UserError
from colormae.experiments.sweep import build_arms, run_sweep
from colormae.jobs.sweep import TABLE1_GROUPS, SweepConfig

TINY = dict(data="mnist5k", budget=2, model="mae_vit_micro_32px", batch_size=16, pattern_size=32,
            probe_epochs=2, probe_samples=64, isolate=False, progress=False)


def job(out, **kw) -> SweepConfig:
    return load_config(SweepConfig, values={**TINY, "out": str(out), **kw})


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_two_arm_sweep_and_resume(tmp_path):
    lines = []
    rows = run_sweep(job(tmp_path, arms=["noise"]), echo=lines.append)
    assert [(r["group"], r["setting"]) for r in rows] == [("noise", "Uniform"), ("noise", "White")]
    assert len(lines) == 2 and all("Top-1" in line for line in lines)
    csv_rows = _rows(tmp_path / "results.csv")
    assert [r["key"] for r in csv_rows] == ["random-r75", "random-white-r75"]
    for r in csv_rows:
        assert 0.0 <= float(r["lp_top1"]) <= float(r["lp_top5"]) <= 100.0
        assert int(r["steps"]) == 2 and float(r["peak_mem_mb"]) > 0
    assert "(c) MAE with different noises" in (tmp_path / "table.md").read_text()
    # the step budget goes straight to the job: exactly 2 optimizer steps, 0 warm-up steps
    for key in ("random-r75-s0", "random-white-r75-s0"):
        record = json.loads((tmp_path / "arms" / key / "arm.json").read_text())
        assert set(record) == {"pretrain", "linprobe"} and record["pretrain"]["steps"] == 2

    # finished arms are not rerun: their record says so
    lines.clear()
    run_sweep(job(tmp_path, arms=["noise"]), echo=lines.append)
    assert all("reused" in line for line in lines)
    # an arm whose pretraining finished but whose probe did not resumes without retraining
    record_path = tmp_path / "arms" / "random-r75-s0" / "arm.json"
    record = json.loads(record_path.read_text())
    del record["linprobe"]
    record_path.write_text(json.dumps(record))
    lines.clear()
    rows2 = run_sweep(job(tmp_path, arms=["noise"]), echo=lines.append)
    assert rows2 == rows  # deterministic probe on the same checkpoint
    assert "reused" in lines[1] and "reused" not in lines[0]

    with pytest.raises(UserError, match="budget"):
        run_sweep(job(tmp_path, arms=["noise"], budget=3))


def test_seeds_give_mean_and_std(tmp_path):
    rows = run_sweep(job(tmp_path, arms=["noise"], seeds=2, budget=1))
    assert [(r["key"], r["seed"]) for r in rows] == [("random-r75", 0), ("random-r75", 1),
                                                     ("random-white-r75", 0), ("random-white-r75", 1)]
    table = (tmp_path / "table.md").read_text()
    assert "mean ± std over 2 seeds" in table
    uniform = next(line for line in table.splitlines() if line.startswith("| Uniform"))
    top1 = [float(r["lp_top1"]) for r in rows[:2]]
    mean = sum(top1) / 2
    assert f"{mean:.2f} ± " in uniform


@pytest.mark.slow
def test_full_tiny_sweep_writes_every_row(tmp_path):
    lines = []
    rows = run_sweep(job(tmp_path, arms=list(TABLE1_GROUPS)), echo=lines.append)
    arms = build_arms(TABLE1_GROUPS)
    assert [(r["group"], r["setting"]) for r in rows] == [(a.group, a.setting) for a in arms]
    assert len(lines) == 13  # one line per distinct run
    assert len(_rows(tmp_path / "results.csv")) == 16
    table = (tmp_path / "table.md").read_text()
    assert sum(1 for line in table.splitlines() if line.startswith("| ") and "Top-1" not in line) == 16
    assert Image.open(tmp_path / "fig1.png").size == (1000, 400)


@pytest.mark.gpu
def test_sweep_on_cuda_measures_gpu_memory(tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    rows = run_sweep(job(tmp_path, arms=["noise"], isolate=None, device="cuda"))
    mems = [r["peak_mem_mb"] for r in rows]
    # in-process on a GPU: CUDA max-allocated, reset before each arm (a few MB for the micro model)
    assert all(0 < m < 2000 for m in mems)


@pytest.mark.slow
def test_sweep_finetune_learns_and_resumes(tmp_path):
    """Two arms fine-tuned 2 epochs on mnist5k: above chance (10 %), and an interrupted fine-tune resumes."""
    cfg = job(tmp_path, arms=["noise"], finetune=True, finetune_epochs=2, budget=20)
    rows = run_sweep(cfg)
    assert len(rows) == 2
    for r in rows:
        assert 30.0 < float(r["ft_top1"]) <= float(r["ft_top5"]) <= 100.0  # chance is 10 %
    # an interrupted fine-tuning: its record lost, checkpoints kept -> resumes instead of refusing
    arm = tmp_path / "arms" / "random-r75-s0"
    record = json.loads((arm / "arm.json").read_text())
    del record["finetune"]
    (arm / "arm.json").write_text(json.dumps(record))
    again = run_sweep(cfg)
    assert again[0]["ft_top1"] == rows[0]["ft_top1"]


def test_transfer_arms_include_a_random_init_encoder(tmp_path):
    """The random-init arm trains nothing and is probed (linear + k-NN) like the pretrained ones."""
    rows = run_sweep(job(tmp_path, arms=["transfer"], budget=1))
    assert [r["setting"] for r in rows] == ["Random init", "MAE", "ColorMAE-G"]
    init = json.loads((tmp_path / "arms" / "init-s0" / "arm.json").read_text())
    assert init["pretrain"]["steps"] == 0 and not (tmp_path / "arms" / "init-s0" / "checkpoints").exists()
    for r in rows:
        assert 0.0 <= float(r["knn_top1"]) <= 100.0 and r["lp_balanced"] is not None
