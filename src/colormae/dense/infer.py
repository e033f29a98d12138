"""Inference: whole-image and sliding-window logits (mmseg's ``whole_inference`` / ``slide_inference``),
and the label map of one evaluation image at its annotation's size."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@torch.no_grad()
def whole_logits(model: nn.Module, images: Tensor) -> Tensor:
    """``images (B, 3, H, W)`` -> logits ``(B, K, H, W)`` in one pass."""
    return model(images).float()


@torch.no_grad()
def slide_logits(model: nn.Module, images: Tensor, crop: int, stride: int) -> Tensor:
    """Average of the logits of ``crop``-sized windows ``stride`` apart (the last ones flush with the
    border; a side shorter than ``crop`` is one window of that side): ``(B, 3, H, W) -> (B, K, H, W)``."""
    _, _, H, W = images.shape
    rows = max(H - crop + stride - 1, 0) // stride + 1
    cols = max(W - crop + stride - 1, 0) // stride + 1
    total: Tensor | None = None
    count = images.new_zeros((1, 1, H, W))
    for r in range(rows):
        for c in range(cols):
            y1, x1 = r * stride, c * stride
            y2, x2 = min(y1 + crop, H), min(x1 + crop, W)
            y1, x1 = max(y2 - crop, 0), max(x2 - crop, 0)
            out = model(images[:, :, y1:y2, x1:x2]).float()
            if total is None:
                total = images.new_zeros((images.shape[0], out.shape[1], H, W), dtype=torch.float32)
            total[:, :, y1:y2, x1:x2] += out
            count[:, :, y1:y2, x1:x2] += 1
    assert total is not None
    return total / count


@torch.no_grad()
def predict(model: nn.Module, image: Tensor, out_hw: tuple[int, int], *, mode: str = "slide", crop: int = 512,
            stride: int = 341) -> Tensor:
    """Label map ``(H0, W0)`` of one normalised ``image (3, h, w)``: logits by ``mode`` (``"whole"`` or
    ``"slide"``), resized bilinearly to the annotation's ``out_hw``, argmax."""
    x = image[None]
    logits = whole_logits(model, x) if mode == "whole" else slide_logits(model, x, crop, stride)
    if tuple(logits.shape[-2:]) != tuple(out_hw):
        logits = F.interpolate(logits, size=out_hw, mode="bilinear", align_corners=False)
    return logits[0].argmax(0)
