"""Linear probing of a frozen encoder, as in MAE (He et al. 2022, Sec. A.2 / Table 9).

The head is ``BatchNorm1d(D, affine=False, eps=1e-6)`` followed by ``Linear(D, C)`` (weights
``trunc_normal(std=0.01)``): the parameter-free BatchNorm whitens features whose scales differ wildly
between encoders, and, having no affine part, it is still a *linear* classifier. The optimiser is SGD
with momentum 0.9 (default) or LARS (timm's ``Lars``; trust ratio on weight matrices, not on biases, as
MAE), with linear warm-up then cosine decay per step (timm's ``CosineLRScheduler``); MAE's recipe is
LARS, base lr 0.1 (lr = blr x batch / 256), no weight decay, 90 epochs, 10 warm-up epochs, batch 16384.
LARS scales every step to ``lr x 1e-3`` of the weight norm, so at the small batches of CPU runs the
scaled lr is far too small for it: SGD is the default, LARS wants a large ``lr`` there.

Features come from :mod:`colormae.eval.features`: computed once when augmentation is off (the default),
or re-encoded every epoch through a callable when it is on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from timm.optim import Lars
from timm.scheduler import CosineLRScheduler
from torch import Tensor, nn

from colormae.errors import UserError
from colormae.eval.results import classification_metrics
from colormae.progress import progress as progress_bar

if TYPE_CHECKING:
    from colormae.eval.targets import TargetTask

OPTIMIZERS = ("lars", "sgd")

#: ``epoch -> (features (N, D), labels (N,))``: a fresh augmented pass per epoch.
FeatureSource = Callable[[int], tuple[Tensor, Tensor]]


class LinearProbeHead(nn.Sequential):
    """``BatchNorm1d(affine=False)`` + ``Linear``: ``(B, D) -> (B, C)`` logits (MAE's probe head)."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__(nn.BatchNorm1d(dim, affine=False, eps=1e-6), nn.Linear(dim, num_classes))
        nn.init.trunc_normal_(self[1].weight, std=0.01)
        nn.init.zeros_(self[1].bias)


@dataclass
class ProbeResult:
    """A trained probe head and its accuracies (percent) after the last epoch, plus per-epoch history.

    ``metrics`` holds the last evaluation's full :func:`~colormae.eval.results.classification_metrics`
    (``balanced_acc``, ``per_class_acc``, ``predicted_classes``, ``warning`` when it collapsed).
    """

    head: LinearProbeHead
    top1: float | None
    top5: float | None
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def balanced_acc(self) -> float:
        """Mean per-class recall (percent) after the last epoch."""
        return float(self.metrics.get("balanced_acc", float("nan")))

    def as_dict(self) -> dict[str, object]:
        """The numbers, JSON-ready (no ``top1`` / ``top5`` for multi-label or regression targets)."""
        top = {"top1": self.top1, "top5": self.top5} if self.top1 is not None else {}
        return {**self.metrics, **top, "history": self.history}


def make_optimizer(head: nn.Module, name: str, lr: float, weight_decay: float = 0.0,
                   momentum: float = 0.9) -> torch.optim.Optimizer:
    """LARS (trust ratio on >= 2-D weights only, biases plain momentum SGD, as MAE's LARS) or SGD."""
    if name not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    weights = [p for p in head.parameters() if p.ndim >= 2]
    others = [p for p in head.parameters() if p.ndim < 2]
    if name == "lars":
        return Lars([{"params": weights, "weight_decay": weight_decay, "always_adapt": True},
                     {"params": others, "weight_decay": 0.0, "always_adapt": False}],
                    lr=lr, momentum=momentum)
    return torch.optim.SGD([{"params": weights, "weight_decay": weight_decay},
                            {"params": others, "weight_decay": 0.0}], lr=lr, momentum=momentum)


@torch.no_grad()
def head_outputs(head: nn.Module, features: Tensor, batch_size: int = 4096) -> Tensor:
    """``head``'s outputs ``(N, C)`` on ``features: (N, D)``, in eval mode (its mode restored)."""
    was = head.training
    head.eval()
    device = next(head.parameters()).device
    starts = range(0, len(features), batch_size)
    outputs = torch.cat([head(features[i:i + batch_size].to(device)) for i in starts])
    head.train(was)
    return outputs


def evaluate_head(head: nn.Module, features: Tensor, labels: Tensor, batch_size: int = 4096, *,
                  class_names: Sequence[str] | None = None, warn: bool = True,
                  task: TargetTask | None = None) -> dict[str, Any]:
    """Metrics of ``head`` (eval mode) on ``features: (N, D)``, ``labels: (N,)``: Top-1 / Top-5, balanced
    and per-class accuracy (:func:`~colormae.eval.results.classification_metrics`); with ``task``,
    ``labels: (N, C)`` and the task's metrics (:mod:`colormae.eval.targets`)."""
    outputs = head_outputs(head, features, batch_size)
    if task is not None:
        return task.metrics(task.scores(outputs), labels)
    return classification_metrics(outputs, labels.to(outputs.device), class_names=class_names, warn=warn)


def train_linear_probe(train: tuple[Tensor, Tensor] | FeatureSource, val: tuple[Tensor, Tensor], *,
                       num_classes: int, epochs: int = 90, batch_size: int = 256, lr: float | None = None,
                       base_lr: float = 0.1, optimizer: str = "sgd", weight_decay: float = 0.0,
                       warmup_epochs: int = 10, device: str | torch.device = "cpu", seed: int = 0,
                       class_names: Sequence[str] | None = None, progress: bool = True,
                       task: TargetTask | None = None) -> ProbeResult:
    """Fit a :class:`LinearProbeHead` on frozen features and report validation Top-1 / Top-5.

    With ``task`` (:class:`~colormae.eval.targets.TargetTask`) the labels are ``(N, C)`` targets
    (multi-label 0 / 1 or regression numbers), the loss and metrics the task's.

    ``train`` is ``(features (N, D), labels (N,))`` computed once, or a :data:`FeatureSource` called each
    epoch (augmentation on). ``val`` is ``(features (M, D), labels (M,))``. ``lr`` defaults to
    ``base_lr * batch_size / 256`` (MAE's scaling rule). The schedule is per step: linear warm-up for
    ``warmup_epochs`` (clipped to half the run) then cosine to 0. Deterministic given ``seed``.
    """
    if epochs < 1 or batch_size < 1:
        raise UserError(f"--epochs and --batch-size must be positive (got {epochs}, {batch_size})")
    device = torch.device(device)
    fixed = None if callable(train) else train
    feats, labels = fixed if fixed is not None else train(0)  # type: ignore[misc, operator]
    n, dim = feats.shape
    steps_per_epoch = max(n // batch_size, 1)   # drop the last partial batch: BatchNorm needs > 1 row
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = LinearProbeHead(dim, num_classes).to(device)
    lr = base_lr * batch_size / 256 if lr is None else lr
    opt = make_optimizer(head, optimizer, lr, weight_decay)
    total = epochs * steps_per_epoch
    warmup = min(warmup_epochs * steps_per_epoch, total // 2)
    sched = CosineLRScheduler(opt, t_initial=total - warmup, warmup_t=warmup, warmup_lr_init=0.0, lr_min=0.0,
                              warmup_prefix=True, t_in_epochs=False)
    sched.step_update(0)
    loss_fn = task.loss if task is not None else nn.CrossEntropyLoss()
    shown = task.headline if task is not None else ("top1", "top5", "balanced_acc")
    history: list[dict[str, float]] = []
    step = 0
    bar = progress_bar(range(epochs), desc="linear probe", enabled=progress, leave=False)
    for epoch in bar:
        if epoch > 0 and fixed is None:
            feats, labels = train(epoch)  # type: ignore[operator]
        head.train()
        order = torch.randperm(n, generator=gen)
        running = 0.0
        for i in range(steps_per_epoch):
            idx = order[i * batch_size:(i + 1) * batch_size]
            x, y = feats[idx].to(device, non_blocking=True), labels[idx].to(device, non_blocking=True)
            loss = loss_fn(head(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            sched.step_update(step)
            running += float(loss.detach())
        if not math.isfinite(running):
            raise UserError(f"linear probe: the training loss is {running} in epoch {epoch + 1}; lower lr "
                            f"(it was {lr:g})")
        last = epoch == epochs - 1
        acc = evaluate_head(head, *val, class_names=class_names, warn=last, task=task)
        history.append({"epoch": epoch + 1, "loss": running / steps_per_epoch, **{k: acc[k] for k in shown}})
        bar.set_postfix(loss=f"{running / steps_per_epoch:.3f}", **{shown[0]: f"{acc[shown[0]] or 0:.1f}"})
    metrics = {k: v for k, v in acc.items() if k not in ("top1", "top5")}
    return ProbeResult(head=head, top1=history[-1].get("top1"), top5=history[-1].get("top5"), history=history,
                       metrics=metrics)
