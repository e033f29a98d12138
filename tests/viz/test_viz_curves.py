"""Loss-curve plots from metrics.jsonl."""

import json
from unittest import mock

import numpy as np
import pytest
from PIL import Image

from colormae.errors import UserError
from colormae.viz.curves import ema_smooth, loss_records, plot_loss_curves
from colormae.viz.style import pyplot


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
    run = _write_run(tmp_path / "a", [3.0, 2.0], truncated=True)  # a crash mid-write: the curve so far
    assert [r["loss"] for r in loss_records(run)] == [3.0, 2.0]
    text = (run / "metrics.jsonl").read_text()
    (run / "metrics.jsonl").write_text("not json\n" + text)  # not a metrics file
    with pytest.raises(UserError, match="JSON"):
        loss_records(run)


def test_ema_smooth_debiased():
    assert ema_smooth([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])
    assert ema_smooth([0.0, 1.0], 0.5) == pytest.approx([0.0, 0.5 / 0.75])


def test_plot_loss_curves_draws_each_runs_losses(tmp_path):
    from matplotlib.colors import to_rgb

    losses = {"uniform": [1.0 / (i + 1) for i in range(20)], "white": [2.0 - 0.05 * i for i in range(20)]}
    runs = [_write_run(tmp_path / name, values) for name, values in losses.items()]
    plt = pyplot()
    with mock.patch.object(plt, "close"):  # keep the figure open to read what it drew
        out = plot_loss_curves(runs, tmp_path / "curves.png", labels=["uniform", "white"], smooth=0.6)
    fig = plt.gcf()
    pixels = np.asarray(Image.open(out).convert("RGB"), dtype=np.float64) / 255
    assert pixels.shape[:2] == (400, 600)
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 4  # per run: raw (faint) then smoothed (labelled)
    for i, (name, values) in enumerate(losses.items()):
        raw, smooth = lines[2 * i], lines[2 * i + 1]
        assert list(raw.get_xdata()) == list(range(20)) == list(smooth.get_xdata())
        assert list(raw.get_ydata()) == values
        assert list(smooth.get_ydata()) == pytest.approx(ema_smooth(values, 0.6))
        assert smooth.get_label() == name and raw.get_color() == smooth.get_color() == f"C{i}"
        # the smoothed curve is visible in the rendered image: pixels of its colour exist
        distance = np.abs(pixels - np.array(to_rgb(f"C{i}"))).max(axis=-1)
        assert (distance < 0.05).sum() > 100, name
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["uniform", "white"]
    plt.close(fig)


def test_missing_metrics_is_user_error(tmp_path):
    with pytest.raises(UserError, match="metrics"):
        plot_loss_curves([tmp_path], tmp_path / "c.png")
