"""Multi-label and regression targets (``labels=FILE``): the loss of a head, its scores and the metrics
the field reports.

**Multi-label** (BigEarthNet, ChestX-ray14): one sigmoid per class and binary cross-entropy
(``BCEWithLogitsLoss``; label smoothing ``s`` moves the targets to ``y (1 - s) + s / 2``). A score is
the class probability (k-NN: the share of the neighbours' vote weight that has the class). Metrics, as
scikit-learn computes them (``average_precision_score``, ``f1_score``), in percent:

- ``mAP_macro``: the mean over classes of the average precision ``sum_n (R_n - R_{n-1}) P_n`` over the
  distinct score thresholds; ``mAP_micro``: the average precision of every (image, class) pair at once;
- ``f1_macro`` / ``f1_micro``: F1 of the predictions ``score >= 0.5`` (macro: mean of the per-class F1;
  micro: from the counts summed over classes);
- ``per_class_ap``, ``per_class_f1``: ``{class: percent}``;
- ``chance_mAP_macro``: what scores that know nothing get, the mean of the classes' prevalences.

A class without a positive validation image has no average precision (``None``) and is left out of the
macro means (as ``balanced_acc`` leaves out classes without validation images; scikit-learn would count
it as 0), with a ``warning``.

**Regression** (crop yield, age): a linear output per target, mean-squared error on targets standardised
with the training split's mean and standard deviation, predictions mapped back. Metrics: ``mse``, ``mae``,
``r2`` (``sklearn.metrics`` with ``multioutput="uniform_average"``) and ``per_target``.

The validation scores are saved next to the results JSON (:func:`save_scores`, safetensors: ``scores``
``(M, C)``, ``targets`` ``(M, C)``; metadata ``names`` and ``paths`` as JSON) so the numbers can be
checked with any tool.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

#: The result keys a task's history and printed line show first.
HEADLINE = {"multilabel": ("mAP_macro", "mAP_micro", "f1_macro"), "regression": ("r2", "mse", "mae")}


def average_precision(scores: Tensor, truth: Tensor) -> float | None:
    """Average precision of ``scores: (N,)`` against binary ``truth: (N,)`` (``sklearn.metrics.
    average_precision_score``): ``sum_n (R_n - R_{n-1}) P_n`` over the distinct thresholds, highest
    first; ``None`` without a positive."""
    truth = truth.double().flatten()
    positives = float(truth.sum())
    if positives == 0:
        return None
    order = torch.argsort(scores.double().flatten(), descending=True, stable=True)
    s, t = scores.double().flatten()[order], truth[order]
    tp, seen = torch.cumsum(t, 0), torch.arange(1, len(t) + 1, dtype=torch.float64)
    last = torch.ones(len(s), dtype=torch.bool)       # the last row of each run of equal scores
    last[:-1] = s[1:] != s[:-1]
    tp, seen = tp[last], seen[last]
    recall = tp / positives
    gain = torch.diff(recall, prepend=recall.new_zeros(1))
    return float((gain * tp / seen).sum())


def multilabel_metrics(scores: Tensor, truth: Tensor, names: Sequence[str], threshold: float = 0.5
                       ) -> dict[str, Any]:
    """The multi-label metrics (module docstring) of ``scores: (N, C)`` against 0 / 1 ``truth: (N, C)``."""
    scores, truth = scores.double().cpu(), truth.double().cpu()
    ap = [average_precision(scores[:, j], truth[:, j]) for j in range(truth.shape[1])]
    pred = scores >= threshold
    pos = truth > 0.5
    tp, fp, fn = [(a & b).sum(dim=0).double() for a, b in ((pred, pos), (pred, ~pos), (~pred, pos))]
    f1 = 2 * tp / (2 * tp + fp + fn).clamp(min=1)
    kept = [j for j, a in enumerate(ap) if a is not None]
    micro_den = float(2 * tp.sum() + fp.sum() + fn.sum())
    out: dict[str, Any] = {
        "mAP_macro": 100.0 * sum(ap[j] for j in kept) / len(kept) if kept else None,  # type: ignore[misc]
        "mAP_micro": _pct(average_precision(scores, truth)),
        "f1_macro": 100.0 * float(f1[kept].mean()) if kept else None,
        "f1_micro": 100.0 * float(2 * tp.sum()) / micro_den if micro_den else 0.0,
        "per_class_ap": {str(n): _pct(a) for n, a in zip(names, ap, strict=True)},
        "per_class_f1": {str(n): 100.0 * float(f1[j]) for j, n in enumerate(names)},
        "chance_mAP_macro": 100.0 * float(truth[:, kept].mean(dim=0).mean()) if kept else None,
    }
    missing = [str(names[j]) for j, a in enumerate(ap) if a is None]
    if missing:
        out["warning"] = (f"{len(missing)} class(es) without a positive validation image "
                          f"({', '.join(missing[:5])}): left out of the macro means")
    return out


def _pct(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def regression_metrics(pred: Tensor, truth: Tensor, names: Sequence[str]) -> dict[str, Any]:
    """``mse``, ``mae``, ``r2`` (means over targets, as scikit-learn's ``uniform_average``) and
    ``per_target`` of ``pred: (N, T)`` against ``truth: (N, T)``."""
    pred, truth = pred.double().cpu(), truth.double().cpu()
    err = pred - truth
    mse, mae = (err ** 2).mean(dim=0), err.abs().mean(dim=0)
    var = ((truth - truth.mean(dim=0)) ** 2).sum(dim=0)
    r2 = torch.where(var > 0, 1 - (err ** 2).sum(dim=0) / var.clamp(min=1e-300),
                     torch.where((err ** 2).sum(dim=0) == 0, 1.0, 0.0))
    return {"mse": float(mse.mean()), "mae": float(mae.mean()), "r2": float(r2.mean()),
            "per_target": {str(n): {"mse": float(mse[j]), "mae": float(mae[j]), "r2": float(r2[j])}
                           for j, n in enumerate(names)}}


@dataclass
class TargetTask:
    """What a head learns from a label table: the loss of its outputs ``(B, C)``, their scores and the
    metrics. ``mean`` / ``std`` ``(C,)``: the training targets' statistics (regression, else 0 / 1)."""

    kind: str
    names: list[str]
    mean: Tensor
    std: Tensor
    smoothing: float = 0.0

    @classmethod
    def fit(cls, kind: str, names: Sequence[str], train_targets: Tensor, smoothing: float = 0.0
            ) -> TargetTask:
        """The task of ``kind`` with the statistics of ``train_targets: (N, C)``."""
        c = train_targets.shape[1]
        if kind == "regression":
            mean, std = train_targets.float().mean(dim=0), train_targets.float().std(dim=0, correction=0)
            return cls(kind, list(names), mean, torch.where(std > 0, std, torch.ones_like(std)))
        return cls(kind, list(names), torch.zeros(c), torch.ones(c), smoothing)

    @property
    def headline(self) -> tuple[str, ...]:
        """The metric keys a history line keeps."""
        return HEADLINE[self.kind]

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """BCE with logits (multi-label) or MSE on standardised targets; ``outputs, targets: (B, C)``."""
        outputs, targets = outputs.float(), targets.to(outputs.device).float()  # fp32 losses under amp
        if self.kind == "regression":
            return F.mse_loss(outputs, (targets - self.mean.to(outputs)) / self.std.to(outputs))
        if self.smoothing:
            targets = targets * (1 - self.smoothing) + 0.5 * self.smoothing
        return F.binary_cross_entropy_with_logits(outputs, targets)

    def scores(self, outputs: Tensor) -> Tensor:
        """Class probabilities (multi-label) or predictions in the targets' units, ``(B, C)`` float32."""
        outputs = outputs.float()
        if self.kind == "regression":
            return outputs * self.std.to(outputs) + self.mean.to(outputs)
        return torch.sigmoid(outputs)

    def metrics(self, scores: Tensor, targets: Tensor) -> dict[str, Any]:
        """:func:`multilabel_metrics` or :func:`regression_metrics` of ``scores`` (from :meth:`scores`)."""
        if self.kind == "regression":
            return regression_metrics(scores, targets, self.names)
        return multilabel_metrics(scores, targets, self.names)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (checkpoints keep it to map a regression head's outputs back)."""
        return {"task": self.kind, "names": self.names, "mean": self.mean.tolist(), "std": self.std.tolist()}


def save_scores(path: str | Path, scores: Tensor, targets: Tensor, names: Sequence[str],
                paths: Sequence[str | Path] | None = None) -> Path:
    """Write ``scores: (M, C)`` and ``targets: (M, C)`` (float32) with the class names and image paths
    (safetensors metadata, JSON lists) atomically to ``path``."""
    from safetensors.torch import save_file

    from colormae.files import atomic_path

    meta = {"names": json.dumps([str(n) for n in names]),
            "paths": json.dumps([str(p) for p in paths] if paths is not None else [])}
    tensors = {"scores": scores.float().cpu().contiguous(), "targets": targets.float().cpu().contiguous()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return Path(path)


def load_scores(path: str | Path) -> dict[str, Any]:
    """What :func:`save_scores` wrote: ``scores``, ``targets`` (tensors), ``names``, ``paths`` (lists)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
        out: dict[str, Any] = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open API
    return {**out, "names": json.loads(meta.get("names", "[]")), "paths": json.loads(meta.get("paths", "[]"))}


def label_table(cfg: Any) -> Any:
    """The :class:`~colormae.data.labels.LabelTable` of a job's ``labels`` settings
    (:class:`colormae.jobs.common.LabelFiles`), or ``None`` without ``labels`` (class sub-folders).
    Relative paths start at ``cfg.data`` when it is a folder, else at the label file's folder."""
    from colormae.data.labels import read_labels
    from colormae.errors import UserError
    from colormae.progress import write
    from colormae.ranks import rank_world

    if not cfg.labels:
        extra = [f"{k}={getattr(cfg, k)}" for k in ("labels_val", "label_columns") if getattr(cfg, k)]
        if cfg.task != "auto":
            extra.append(f"task={cfg.task}")
        if extra:
            raise UserError(f"{extra[0]} needs labels=FILE (the label file of the training images)")
        return None
    data = Path(str(cfg.data)).expanduser()
    table = read_labels(cfg.labels, cfg.labels_val, root=data if data.is_dir() else None, task=cfg.task,
                        columns=cfg.label_columns)
    if cfg.task == "auto" and table.task == "regression" and rank_world()[0] == 0:
        write(f"{cfg.labels}: numbers other than 0 / 1: task=regression (class columns: task=multilabel)")
    return table


def scores_file(out: str | Path | None, name: str, scores: Tensor, targets: Tensor, names: Sequence[str],
                paths: Sequence[str] | None) -> dict[str, str]:
    """Save the validation scores as ``out/<name>_scores.safetensors`` (rank 0; nothing without ``out``);
    ``{"scores_file": file name}`` for the results, or ``{}``."""
    from colormae.ranks import rank

    if out is None:
        return {}
    file = f"{name}_scores.safetensors"
    if rank() == 0:
        save_scores(Path(out) / file, scores, targets, names, paths)
    return {"scores_file": file}


@torch.no_grad()
def evaluate_targets(model: torch.nn.Module, dataset: Any, task: TargetTask, *, batch_size: int = 256,
                     device: str | torch.device = "cpu", num_workers: int | None = 0
                     ) -> tuple[dict[str, Any], Tensor, Tensor]:
    """``(metrics, scores (M, C), rows (M,))`` of a model's outputs on a labelled data set
    (:class:`~colormae.data.labelled.LabelledImages`), split over ranks and gathered in data-set order
    (every rank returns the same)."""
    from colormae.data.labelled import targets_of
    from colormae.eval.features import gather_in_order
    from colormae.ranks import rank_world
    from colormae.train.loader import build_eval_loader

    rank, world = rank_world()
    loader = build_eval_loader(dataset, batch_size=batch_size, num_workers=num_workers, device=device,
                               rank=rank, world_size=world)
    was = model.training
    model.eval()
    outputs, rows = [], []
    for images, index in loader:
        outputs.append(task.scores(model(images.to(device, non_blocking=True))))
        rows.append(torch.as_tensor(index).to(outputs[-1].device))
    model.train(was)
    c = len(task.names)
    local = torch.cat(outputs) if outputs else torch.zeros(0, c, device=device)
    local_rows = torch.cat(rows).long() if rows else torch.zeros(0, dtype=torch.long, device=device)
    scores = gather_in_order(local, len(dataset)).cpu()
    index = gather_in_order(local_rows, len(dataset)).cpu()
    return task.metrics(scores, targets_of(dataset, index)), scores, index
