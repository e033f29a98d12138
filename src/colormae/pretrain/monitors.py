"""Watching a pretraining run while it trains: reconstructions and an online k-NN in the run's logs.

Both are callables ``monitor(step, logger)`` that the loop runs on rank 0 at the start and after every
step (:class:`colormae.train.loop.Hooks`); each acts only on its own steps. Neither touches a random
stream of the run (images are read once, with the deterministic evaluation transform and no
``DataLoader``; masks come from a generator of their own), so a run with monitors trains exactly as one
without, and resumes as exactly. Both run under ``no_grad`` in eval mode and put the model back in the
mode it was in.

- :class:`ReconMonitor` (``viz_every``): a handful of fixed images (the run's data, or
  ``monitor_data``) under the run's own masking, drawn with a fixed seed so every panel shows the same
  masks; one image ``monitor/recon`` with a row per image, original | masked | prediction | prediction
  with the visible patches pasted, norm-pix predictions un-normalised with the statistics of the visible
  patches around each masked one (:func:`colormae.models.recon.unnormalize_prediction`); and the
  scalar ``monitor/mask_coverage`` (fraction of patches masked in those masks).
- :class:`KnnMonitor` (``monitor_knn``, ``monitor_every``): the [CLS] and patch-mean features (one
  encoder pass) of at most ``monitor_cap`` evenly spaced images of each of the train and val splits of a
  labelled set, weighted k-NN (k=20, T=0.07, :func:`colormae.train.knn.knn_accuracy`), logged as
  ``knn_top1`` / ``knn_balanced_acc`` (of ``monitor_feature``'s), ``knn_top1_cls`` / ``knn_top1_mean``,
  ``knn_seconds`` / ``knn_share`` (percent of the wall time since the previous evaluation) to
  ``metrics.jsonl`` and ``monitor/*`` in TensorBoard / W&B, and one printed line with its cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from colormae.errors import UserError
from colormae.models.recon import unnormalize_prediction
from colormae.progress import write
from colormae.train.knn import FEATURES, knn_accuracy, pool_tokens

#: Batch size of the monitors' forward passes.
MONITOR_BATCH = 256
#: How the k-NN monitor's line names each feature.
LABELS = {"cls": "[CLS]", "mean": "patch-mean"}


class eval_mode:  # noqa: N801 - used as a context manager, like torch.no_grad
    """``with eval_mode(model):`` eval mode and ``no_grad`` inside, the previous mode restored after."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.grad = model, torch.no_grad()

    def __enter__(self) -> nn.Module:
        self.was_training = self.model.training
        self.model.eval()
        self.grad.__enter__()
        return self.model

    def __exit__(self, *exc: object) -> None:
        self.grad.__exit__(*exc)
        self.model.train(self.was_training)


def display(images: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """Normalised images ``(N, C, H, W)`` -> displayable ``(N, 3, H, W)`` in ``[0, 1]``: un-normalised with
    ``mean`` / ``std``; one channel is grey, more than three show the first three."""
    c = images.shape[1]
    m = torch.tensor(mean, dtype=images.dtype, device=images.device).view(1, c, 1, 1)
    s = torch.tensor(std, dtype=images.dtype, device=images.device).view(1, c, 1, 1)
    pixels = (images * s + m).clamp(0, 1)
    return pixels.expand(-1, 3, -1, -1) if c == 1 else pixels[:, :3] if c >= 3 else pixels[:, :1].expand(
        -1, 3, -1, -1)


@dataclass
class ReconMonitor:
    """Reconstructions of fixed ``images`` ``(N, C, H, W)`` (normalised, on the model's device) under
    fixed ``mask`` bool ``(N, L)``, every ``every`` steps; see the module docstring."""

    model: nn.Module
    images: Tensor
    mask: Tensor
    mean: Sequence[float]
    std: Sequence[float]
    every: int

    def panel(self) -> Tensor:
        """``(3, N*(H+2)+2, 4*(W+2)+2)``: a row per image, original | masked | prediction | pasted."""
        from torchvision.utils import make_grid

        model, x, mask = self.model, self.images, self.mask
        with eval_mode(model):
            pred = model(x, mask).pred.float()
        if model.config.norm_pix_loss:
            pred = unnormalize_prediction(pred, model.patchify(x.float()), mask, model.grid)
        recon = model.unpatchify(pred)
        p, c = model.config.patch_size, model.config.in_chans
        m = model.unpatchify(mask.float().unsqueeze(-1).expand(-1, -1, p * p * c))  # 1 = masked
        views = [x, x * (1 - m), recon, x * (1 - m) + recon * m]
        rows = torch.stack([display(v.float(), self.mean, self.std) for v in views], dim=1)  # (N, 4, 3, H, W)
        return make_grid(rows.flatten(0, 1), nrow=4, padding=2, pad_value=1.0).cpu()

    def __call__(self, step: int, logger: Any) -> None:
        if self.every <= 0 or step % self.every:
            return
        logger.log_image("monitor/recon", self.panel(), step)
        logger.log({"step": step, "mask_coverage": float(self.mask.float().mean())}, prefix="monitor")


@dataclass
class KnnMonitor:
    """Online k-NN of the encoder's features on fixed labelled images, every ``every`` steps.

    ``feature`` (``"cls"`` | ``"mean"``): what ``knn_top1`` / ``knn_balanced_acc`` are of; both features'
    top-1 is logged as ``knn_top1_cls`` / ``knn_top1_mean``. ``train_x: (N, C, H, W)``, ``train_y: (N,)``,
    ``val_x: (M, C, H, W)``, ``val_y: (M,)`` (CPU, normalised); ``name``: the data set, for the log line.
    """

    model: nn.Module
    train_x: Tensor
    train_y: Tensor
    val_x: Tensor
    val_y: Tensor
    num_classes: int
    every: int
    name: str
    device: torch.device
    feature: str = "cls"
    k: int = 20
    temperature: float = 0.07
    last: float | None = field(default=None, init=False)  #: when the previous evaluation ended

    def features(self, images: Tensor) -> dict[str, Tensor]:
        """``{feature: (N, D)}`` for every feature of :data:`~colormae.train.knn.FEATURES` ([CLS] and patch
        mean) of ``images``, from one encoder pass, :data:`MONITOR_BATCH` images at a time."""
        prefix = self.model.encoder.num_prefix_tokens
        parts: dict[str, list[Tensor]] = {f: [] for f in FEATURES}
        with eval_mode(self.model):
            for i in range(0, images.shape[0], MONITOR_BATCH):
                tokens = self.model.forward_features(images[i:i + MONITOR_BATCH].to(self.device)).float()
                for f in FEATURES:
                    parts[f].append(pool_tokens(tokens, f, prefix))
        return {f: torch.cat(p) for f, p in parts.items()}

    def evaluate(self) -> dict[str, dict[str, float]]:
        """``{feature: {"top1", "balanced_acc"}}`` (percent) of k-NN with the model's current weights, for
        every feature of :data:`~colormae.train.knn.FEATURES`."""
        train, val = self.features(self.train_x), self.features(self.val_x)
        return {f: knn_accuracy(train[f], self.train_y, val[f], self.val_y, num_classes=self.num_classes,
                                k=self.k, temperature=self.temperature) for f in FEATURES}

    def __call__(self, step: int, logger: Any) -> None:
        if self.every <= 0 or step % self.every:
            return
        t0 = time.perf_counter()
        every = self.evaluate()
        seconds = time.perf_counter() - t0
        acc = every[self.feature]
        record = {"step": step, "knn_top1": acc["top1"], "knn_balanced_acc": acc["balanced_acc"],
                  **{f"knn_top1_{f}": every[f]["top1"] for f in FEATURES}, "knn_seconds": seconds}
        share = ""
        if self.last is not None:
            record["knn_share"] = 100.0 * seconds / max(time.perf_counter() - self.last, 1e-9)
            share = f", {record['knn_share']:.1f} % of the time since the last one"
        logger.log(record, prefix="monitor")
        others = ", ".join(f"{LABELS[f]} {every[f]['top1']:.1f} %" for f in FEATURES if f != self.feature)
        write(f"step {step}: k-NN top-1 {acc['top1']:.1f} % (balanced {acc['balanced_acc']:.1f} %) of "
              f"{LABELS[self.feature]} features on {self.name} ({len(self.train_y)} + {len(self.val_y)} "
              f"images), {others}, {seconds:.1f} s{share}")
        self.last = time.perf_counter()


def load_labelled(name: str, split: str, img_size: tuple[int, int], norm: Any, cap: int
                  ) -> tuple[Tensor, Tensor, int]:
    """At most ``cap`` evenly spaced images ``(N, C, H, W)``, their labels ``(N,)`` and the number of
    classes of ``name``'s ``split``, through the evaluation transform (read without a ``DataLoader``: no
    random stream is touched)."""
    from colormae.data import build_dataset, eval_transform, is_builtin, num_classes
    from colormae.data.subset import subset

    try:
        dataset = build_dataset(name, split=split, transform=eval_transform(img_size, norm),
                                channels=None if is_builtin(name) else norm.channels)
    except UserError as err:
        raise UserError(f"monitor_knn={name}: {err}") from None
    if len(dataset) == 0:
        raise UserError(f"monitor_knn={name}: its {split} split is empty (a k-NN monitor needs labelled "
                        "train and val images)")
    try:
        classes = num_classes(dataset)
    except ValueError:
        raise UserError(f"monitor_knn={name}: the data set has no class labels (use a folder of class "
                        "sub-folders with train/ and val/, or mnist5k)") from None
    part = subset(dataset, cap)
    items = [part[i] for i in range(len(part))]
    return torch.stack([x for x, _ in items]), torch.as_tensor([int(y) for _, y in items]), classes


def build_monitors(cfg: Any, model: nn.Module, norm: Any, strategy: Any, device: torch.device
                   ) -> Callable[[int, Any], None] | None:
    """The monitors ``cfg`` asks for (``viz_every``, ``monitor_knn``), as one callable, or None."""
    from colormae.data import sample_images
    from colormae.masking import draw_masks

    monitors: list[Callable[[int, Any], None]] = []
    hw = model.config.image_hw
    if cfg.viz_every > 0:
        images = sample_images(cfg.monitor_data or cfg.data, cfg.viz_images, hw, norm).to(device)
        gen = torch.Generator(device=device).manual_seed(cfg.seed)
        mask = draw_masks(strategy, images.shape[0], model.grid, generator=gen, device=device).mask
        monitors.append(ReconMonitor(model, images, mask, norm.mean, norm.std, cfg.viz_every))
    if cfg.monitor_knn:
        train_x, train_y, classes = load_labelled(cfg.monitor_knn, "train", hw, norm, cfg.monitor_cap)
        val_x, val_y, _ = load_labelled(cfg.monitor_knn, "val", hw, norm, cfg.monitor_cap)
        monitors.append(KnnMonitor(model, train_x, train_y, val_x, val_y, classes, cfg.monitor_every,
                                   cfg.monitor_knn, device, feature=cfg.monitor_feature))
    if not monitors:
        return None

    def run_all(step: int, logger: Any) -> None:
        for monitor in monitors:
            monitor(step, logger)

    return run_all
