"""Loss-curve plots from metrics.jsonl."""

import json

import pytest
from PIL import Image

from colormae.errors import UserError
from colormae.viz.curves import ema_smooth, loss_records, plot_loss_curves


def _write_run(path, losses, *, truncated=False):
    path.mkdir()
    lines = [json.dumps({"step": i, "epoch": i // 4, "loss": v, "lr": 1e-3}) for i, v in enumerate(losses)]
    lines.insert(2, json.dumps({"step": 2, "knn_top1": 12.0}))  # a record without loss is skipped
    text = "\n".join(lines) + "\n"
    if truncated:
        text += '{"step": 99, "lo'
    (path / "metrics.jsonl").write_text(text)
    return path


def test_loss_records_skip_non_loss(tmp_path):
    run = _write_run(tmp_path / "a", [3.0, 2.0, 1.0])
    assert [r["loss"] for r in loss_records(run)] == [3.0, 2.0, 1.0]


def test_corrupt_metrics_is_user_error(tmp_path):
    run = _write_run(tmp_path / "a", [3.0, 2.0], truncated=True)
    with pytest.raises(UserError, match="JSON"):
        loss_records(run)


def test_ema_smooth_debiased():
    assert ema_smooth([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])
    assert ema_smooth([0.0, 1.0], 0.5) == pytest.approx([0.0, 0.5 / 0.75])


def test_plot_loss_curves_size(tmp_path):
    a = _write_run(tmp_path / "uniform", [1.0 / (i + 1) for i in range(20)])
    b = _write_run(tmp_path / "white", [1.1 / (i + 1) for i in range(20)])
    out = plot_loss_curves([a, b], tmp_path / "curves.png", labels=["uniform", "white"])
    assert Image.open(out).size == (600, 400)


def test_missing_metrics_is_user_error(tmp_path):
    with pytest.raises(UserError, match="metrics"):
        plot_loss_curves([tmp_path], tmp_path / "c.png")
