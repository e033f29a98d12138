"""Evaluate a segmentation model on a split: metrics, optional label PNGs, and samples for a figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from colormae.dense.augment import EvalTransform
from colormae.dense.infer import predict
from colormae.dense.metrics import ConfusionMatrix
from colormae.files import atomic_write
from colormae.progress import progress as progress_bar
from colormae.ranks import rank_world


def save_label_png(labels: torch.Tensor, path: Path) -> None:
    """Write a label map ``(H, W)`` as an 8-bit (or 16-bit, for ids above 255) grey PNG (atomically)."""
    array = labels.cpu().numpy()
    if array.max(initial=0) > 255:
        image = Image.fromarray(array.astype(np.uint16))
    else:
        image = Image.fromarray(array.astype(np.uint8), mode="L")
    atomic_write(path, lambda fh: image.save(fh, format="PNG"), sync=False)


@torch.no_grad()
def evaluate(model: nn.Module, source: Any, *, scale: tuple[int, int], mode: str = "slide", crop: int = 512,
             stride: int = 341, device: str | torch.device = "cpu", save_dir: str | Path | None = None,
             keep: int = 0, progress: bool = False, norm: Any = None) -> dict[str, Any]:
    """mIoU / mAcc / aAcc / per-class IoU (percent) of ``model`` on every item of ``source``.

    Items are split over ranks (``i % world == rank``) and the confusion matrices summed. Each image is
    resized to ``scale`` (keep ratio), predicted by ``mode`` and compared with its annotation at the
    annotation's size. ``save_dir``: one label PNG per image named ``<stem>.png``. ``keep``: the first
    ``keep`` items' ``(image, labels, prediction)`` are returned under ``"samples"`` (rank 0).
    ``norm``: the images' :class:`~colormae.data.normalization.Normalization` (default ImageNet RGB).
    No random numbers are drawn (exact resume).
    """
    rank, world = rank_world()
    transform = EvalTransform(scale, norm)
    cm = ConfusionMatrix(len(source.classes), source.ignore_index)
    was_training = model.training
    model.eval()
    samples = []
    indices = range(rank, len(source), world)
    for i in progress_bar(indices, desc="val", leave=False, enabled=progress and rank == 0):
        image, labels = transform(*source.read(i))
        pred = predict(model, image.to(device), tuple(labels.shape), mode=mode, crop=crop,
                       stride=stride).cpu()
        cm.update(pred, labels)
        if save_dir is not None:
            save_label_png(pred, Path(save_dir) / f"{source.stem(i)}.png")
        if i < keep:
            samples.append((image, labels, pred))
    model.train(was_training)
    cm.all_reduce()
    return {**cm.compute(source.classes), "samples": samples}
