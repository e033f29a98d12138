"""A tiny real sweep: pretrain (micro preset, a few steps), linear-probe, table, plot, resume."""

import csv

import pytest
from PIL import Image

from colormae.errors import UserError
from colormae.experiments.sweep import GROUPS, build_arms, run_sweep

TINY = dict(data="mnist5k", budget=2, model="mae_vit_micro_32px", batch_size=16, pattern_size=32,
            probe_epochs=2, probe_samples=64, isolate=False, progress=False)


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_two_arm_sweep_and_resume(tmp_path):
    lines = []
    rows = run_sweep(tmp_path, groups=["noise"], echo=lines.append, **TINY)
    assert [(r["group"], r["setting"]) for r in rows] == [("noise", "Uniform"), ("noise", "White")]
    assert len(lines) == 2 and all("Top-1" in line for line in lines)
    csv_rows = _rows(tmp_path / "results.csv")
    assert [r["key"] for r in csv_rows] == ["random-r75", "random-white-r75"]
    for r in csv_rows:
        assert 0.0 <= float(r["lp_top1"]) <= float(r["lp_top5"]) <= 100.0
        assert int(r["steps"]) == 2 and float(r["peak_mem_mb"]) > 0
    assert "(c) MAE with different noises" in (tmp_path / "table.md").read_text()
    for key in ("random-r75", "random-white-r75"):
        assert (tmp_path / "arms" / key / "result.json").exists()

    # finished arms are not rerun: neither from their done marker nor from the CSV alone
    lines.clear()
    run_sweep(tmp_path, groups=["noise"], echo=lines.append, **TINY)
    assert all("skipped" in line for line in lines)
    # an arm whose pretraining finished but whose probe did not resumes without retraining
    arm = tmp_path / "arms" / "random-r75"
    (arm / "result.json").unlink()
    (tmp_path / "results.csv").unlink()
    lines.clear()
    rows2 = run_sweep(tmp_path, groups=["noise"], echo=lines.append, **TINY)
    assert rows2 == rows  # deterministic probe on the same checkpoint
    assert "reused" in lines[1] and "reused" not in lines[0]

    with pytest.raises(UserError, match="budget"):
        run_sweep(tmp_path, groups=["noise"], **{**TINY, "budget": 3})


@pytest.mark.slow
def test_full_tiny_sweep_writes_every_row(tmp_path):
    lines = []
    rows = run_sweep(tmp_path, groups=GROUPS, echo=lines.append, **TINY)
    arms = build_arms(GROUPS)
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
    rows = run_sweep(tmp_path, groups=["noise"], **{**TINY, "isolate": None}, device="cuda")
    mems = [r["peak_mem_mb"] for r in rows]
    # in-process on a GPU: CUDA max-allocated, reset before each arm (a few MB for the micro model)
    assert all(0 < m < 2000 for m in mems)


def test_sweep_with_finetune_records_finetune_accuracy(tmp_path):
    """Two arms, each fine-tuned for one epoch of mnist5k on the shared engine (~15 s)."""
    rows = run_sweep(tmp_path, groups=["noise"], finetune=True, finetune_epochs=1, **TINY)
    csv_rows = _rows(tmp_path / "results.csv")
    assert len(rows) == len(csv_rows) == 2
    for r in csv_rows:
        assert 0.0 <= float(r["ft_top1"]) <= float(r["ft_top5"]) <= 100.0
    assert (tmp_path / "arms" / "random-r75" / "finetune" / "finetune.json").exists()
