"""``colormae demo``: the steps run end to end, say where their outputs are, and the real demo's encoder
beats a random-init one on mnist5k."""

import json

import pytest

from colormae.cli import main
from colormae.experiments.demo import STEPS, run_demo

FIGURES = ("recon.png", "attention.png", "cam.png", "patterns.png", "masks.png", "curves.png")


@pytest.mark.slow  # ~80 s on an idle 2-core machine (a few steps, two probes, six figures, dense runs)
def test_demo_quick_writes_probes_figures_and_dense_comparisons(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert [name for name, _ in STEPS] == ["pretrain", "probes", "figures", "segment", "detect"]
    assert "[demo 5/5] detect" in out
    for name in FIGURES + ("probes.md",):
        path = tmp_path / name
        assert path.stat().st_size > 1000 or name == "probes.md"
        assert str(path) in out
    assert "| pretrained |" in (tmp_path / "probes.md").read_text()
    assert (tmp_path / "pretrain_quick" / "checkpoints").is_dir()
    summary = json.loads((tmp_path / "summary.json").read_text())
    for probe in ("linprobe", "knn", "segment", "detect"):
        assert set(summary[probe]) == {"pretrained", "random_init"}
        assert all(0.0 <= v <= 100.0 for v in summary[probe].values())
    for run in ("segment", "segment-random", "detect", "detect-random"):  # both arms wrote their metrics
        assert (tmp_path / run / ("segment.json" if "segment" in run else "detect.json")).is_file()
    # running it again reuses the finished pretraining and dense runs instead of refusing the folder;
    # --no-dense leaves the dense steps out
    assert main(["demo", "--quick", "--no-dense", "--out", str(tmp_path), "--device", "cpu"]) == 0
    assert "[demo 3/3] figures" in capsys.readouterr().out
    assert main(["demo", "--quick", "--out", str(tmp_path), "--device", "cpu"]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["segment"] == summary["segment"]


@pytest.mark.slow  # the full demo: ~6 min on 2 cores (dense steps included)
def test_full_demo_encoder_beats_random_init(tmp_path):
    run_demo(tmp_path, device="cpu", echo=lambda _: None)
    probes = json.loads((tmp_path / "pretrain" / "eval" / "probes.json").read_text())
    trained, random = probes["pretrained"], probes["random init"]
    assert trained["knn_top1"] > random["knn_top1"] + 10
    assert trained["linprobe_top1"] > random["linprobe_top1"] + 3
