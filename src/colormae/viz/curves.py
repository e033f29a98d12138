"""Pre-training loss curves of several runs on one plot (supplement Fig. 2, right).

Each run directory holds ``metrics.jsonl`` with one JSON object a line (``step``, ``epoch``, ``loss``,
``lr``, ...); lines without a ``loss`` (e.g. evaluation records) are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from colormae.errors import UserError
from colormae.train.metrics import METRICS_FILE, read_metrics
from colormae.viz.style import DPI, pyplot, save_figure

#: Size of the curves figure in inches (600 x 400 px at 100 dpi).
CURVES_INCHES = (6.0, 4.0)


def loss_records(run_dir: str | Path) -> list[dict]:
    """The training records (those with a ``loss``) of a run directory's ``metrics.jsonl``, in order."""
    path = Path(run_dir)
    file = path / METRICS_FILE if path.is_dir() else path
    if not file.is_file():
        raise UserError(f"{file}: no such metrics file (a run directory holds {METRICS_FILE})")
    try:
        records = read_metrics(file)
    except json.JSONDecodeError as err:
        raise UserError(f"{file}: not a JSON-lines metrics file ({err})") from err
    return [r for r in records if isinstance(r, dict) and "loss" in r]


#: Plot titles by the ``kind`` of a run's checkpoints.
TITLES = {"pretrain": "Pre-training loss", "finetune": "Fine-tuning loss", "segment": "Segmentation loss",
          "detect": "Detection loss"}


def run_kind(run_dir: str | Path) -> str | None:
    """The ``kind`` of the newest checkpoint of ``run_dir`` (memory-mapped: no weights read), if any."""
    import torch

    from colormae.train.checkpoint import latest_checkpoint

    path = latest_checkpoint(run_dir) if Path(run_dir).is_dir() else None
    if path is None:
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("kind")
    except Exception:  # a torn or foreign file: the title is not worth an error
        return None


def run_title(run_dirs: Sequence[str | Path]) -> str:
    """``Pre-training loss``, ``Fine-tuning loss``, ... for runs of one kind, else ``Training loss``."""
    kinds = {run_kind(run) for run in run_dirs}
    return TITLES.get(kinds.pop(), "Training loss") if len(kinds) == 1 else "Training loss"


def ema_smooth(values: Sequence[float], smooth: float) -> list[float]:
    """Debiased exponential moving average, as TensorBoard's smoothing slider (``smooth`` in [0, 1))."""
    if not 0.0 <= smooth < 1.0:
        raise UserError(f"smoothing must be in [0, 1), got {smooth}")
    out, acc, weight = [], 0.0, 0.0
    for v in values:
        acc = smooth * acc + (1 - smooth) * v
        weight = smooth * weight + (1 - smooth)
        out.append(acc / weight)
    return out


def plot_loss_curves(run_dirs: Sequence[str | Path], out_path: str | Path, *, smooth: float = 0.6,
                     labels: Sequence[str] | None = None, x: str = "step", log_y: bool = False) -> Path:
    """Plot the training loss of each run against ``x`` ("step" or "epoch"); returns ``out_path``.

    The raw loss is drawn faintly and its EMA (``smooth``) on top, one colour per run. The figure is
    :data:`CURVES_INCHES` at :data:`~colormae.viz.style.DPI` (600 x 400 px).
    """
    run_dirs = list(run_dirs)
    if not run_dirs:
        raise UserError("no run directory given")
    if labels is None:
        labels = [Path(r).name or str(r) for r in run_dirs]
    if len(labels) != len(run_dirs):
        raise UserError(f"{len(labels)} labels for {len(run_dirs)} runs")
    if x not in ("step", "epoch"):
        raise UserError(f"x must be 'step' or 'epoch', got {x!r}")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=CURVES_INCHES, dpi=DPI)
    for i, (run, label) in enumerate(zip(run_dirs, labels, strict=True)):
        records = loss_records(run)
        if not records:
            raise UserError(f"{run}: metrics.jsonl holds no loss records yet")
        xs = [r.get(x, j) for j, r in enumerate(records)]
        ys = [float(r["loss"]) for r in records]
        color = f"C{i % 10}"
        if smooth > 0 and len(ys) > 1:
            ax.plot(xs, ys, color=color, alpha=0.25, linewidth=0.8)
            ax.plot(xs, ema_smooth(ys, smooth), color=color, linewidth=1.6, label=label)
        else:
            ax.plot(xs, ys, color=color, linewidth=1.6, marker="." if len(ys) < 30 else None, label=label)
    title = run_title(run_dirs)
    ax.set_xlabel(x)
    ax.set_ylabel(title.lower())
    if log_y:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()  # rearranges axes inside the fixed figure size; the pixel size does not change
    return save_figure(fig, out_path)
