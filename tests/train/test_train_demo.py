"""``colormae demo --quick``: the demo's steps run end to end and say where their outputs are."""

import pytest

from colormae.cli import main
from colormae.experiments.demo import STEPS


@pytest.mark.slow  # ~15 s on an idle 2-core machine (imports, 4 steps, two figures); `make demo` runs it all
def test_demo_quick_writes_curve_and_reconstructions(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert [name for name, _ in STEPS][:3] == ["pretrain", "loss curve", "reconstructions"]
    for name in ("loss_curve.png", "reconstructions.png"):
        path = tmp_path / name
        assert path.stat().st_size > 1000 and str(path) in out
    assert (tmp_path / "pretrain_quick" / "checkpoints").is_dir()
    # running it again reuses the finished pretraining instead of refusing the folder
    assert main(["demo", "--quick", "--out", str(tmp_path), "--device", "cpu"]) == 0
