"""Detections on a few val images: ground-truth boxes above, predicted boxes and masks below.

Boxes and masks are drawn with torchvision's ``draw_bounding_boxes`` / ``draw_segmentation_masks`` on
the image enlarged to at least :data:`MIN_SIDE` px (nearest neighbour, so small scenes stay legible);
predictions are an image's ``top`` highest-scoring COCO results (``detections_val.json`` records) that
score at least ``min_score``, each labelled with its score. Images of other than 3 channels (or with
``bands`` chosen) are shown as :func:`colormae.viz.display.display_images` shows them: three bands as
RGB or one as grey, stretched per band unless ImageNet-normalised.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from colormae.extras import require
from colormae.viz.style import image_grid, save_figure

#: Images are drawn at least this many pixels on a side.
MIN_SIDE = 256
#: A fixed palette, one colour per category label (cycled).
PALETTE = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
           "#bcf60c", "#fabebe"]


def _draw(image: torch.Tensor, boxes: torch.Tensor, names: list[str], colors: list[str],
          masks: torch.Tensor | None) -> np.ndarray:
    """``image`` uint8 (3, H, W), boxes xyxy in its pixels, masks bool (N, H, W) -> (S, S', 3) uint8."""
    from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

    scale = max(1, int(np.ceil(MIN_SIDE / max(image.shape[1:]))))
    big = F.interpolate(image[None].float(), scale_factor=scale, mode="nearest")[0].to(torch.uint8)
    if masks is not None and len(masks):
        big_masks = F.interpolate(masks[None].float(), scale_factor=scale, mode="nearest")[0].bool()
        big = draw_segmentation_masks(big, big_masks, alpha=0.45, colors=colors)
    if len(boxes):
        big = draw_bounding_boxes(big, boxes * scale, labels=names, colors=colors, width=2)
    return big.permute(1, 2, 0).numpy()


def _xyxy(boxes: list[list[float]]) -> torch.Tensor:
    """COCO ``[x, y, w, h]`` boxes as a float ``(N, 4)`` xyxy tensor."""
    t = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    return torch.cat([t[:, :2], t[:, :2] + t[:, 2:]], 1)


def display_uint8(image: torch.Tensor, norm: Any = None, bands: tuple[int, ...] | None = None
                  ) -> torch.Tensor:
    """A detector input ``(C, H, W)`` in [0, 1] as uint8 ``(3, H, W)`` for drawing: an RGB image as it is
    (``bands`` unset or 1,2,3), else ``bands`` through :func:`~colormae.viz.display.display_images` with the
    run's normalisation ``norm`` (default: ImageNet RGB)."""
    from colormae.data.normalization import imagenet
    from colormae.viz.display import display_images

    if image.shape[0] == 3 and bands in (None, (1, 2, 3)):
        return (image * 255).round().clamp(0, 255).to(torch.uint8)
    norm = norm or imagenet(image.shape[0])
    mean, std = (torch.tensor(v, dtype=torch.float32).view(-1, 1, 1) for v in (norm.mean, norm.std))
    default = (1, 2, 3) if image.shape[0] >= 3 else (1,)
    shown = display_images(((image.float() - mean) / std)[None], norm, bands or default)[0]
    return (torch.from_numpy(np.ascontiguousarray(shown)).permute(2, 0, 1) * 255).round().to(torch.uint8)


def plot_detections(dataset: Any, results: Sequence[dict[str, Any]], out_path: str | Path, *, count: int = 6,
                    class_names: list[str] | None = None, min_score: float = 0.05, top: int = 3,
                    norm: Any = None, bands: tuple[int, ...] | None = None) -> Path:
    """Draw the first ``count`` images of a :class:`~colormae.dense.detect.coco.CocoDetection` split with
    their ground truth (top row) and the ``results`` for them (bottom row) into ``out_path``; ``norm`` and
    ``bands``: how to show images of other than 3 channels (:func:`display_uint8`)."""
    mask_util = require("pycocotools.mask", extra="dense", feature="drawing detections")

    count = min(count, len(dataset))
    names = class_names or dataset.class_names
    label_of = dataset.label_of
    fig, axes = image_grid(2, count)
    for col in range(count):
        image = display_uint8(dataset.load_image(col), norm, bands)
        image_id = dataset.ids[col]
        gt = [a for a in dataset.coco.imgToAnns.get(image_id, []) if not a.get("iscrowd", 0)]
        gt_boxes = _xyxy([a["bbox"] for a in gt])
        gt_labels = [label_of[a["category_id"]] for a in gt]
        axes[0, col].imshow(_draw(image, gt_boxes, [names[k - 1] for k in gt_labels],
                                  [PALETTE[(k - 1) % len(PALETTE)] for k in gt_labels], None))
        dets = sorted((r for r in results if r["image_id"] == image_id and r["score"] >= min_score),
                      key=lambda r: -r["score"])[:top]
        boxes = _xyxy([r["bbox"] for r in dets])
        labels = [label_of[r["category_id"]] for r in dets]
        masks = None
        if dets and all("segmentation" in r for r in dets):
            masks = torch.from_numpy(np.stack([mask_util.decode(r["segmentation"]) for r in dets])).bool()
        texts = [f"{names[k - 1]} {r['score']:.2f}" for k, r in zip(labels, dets, strict=True)]
        colors = [PALETTE[(k - 1) % len(PALETTE)] for k in labels]
        axes[1, col].imshow(_draw(image, boxes, texts, colors, masks))
        axes[0, col].set_title(f"image {image_id}", fontsize=8)
    axes[0, 0].set_ylabel("ground truth", fontsize=8)
    axes[1, 0].set_ylabel(f"predicted (top {top})", fontsize=8)
    return save_figure(fig, out_path)
