"""Detection inference to COCO results, and scores exactly as pycocotools' ``COCOeval`` computes them.

:func:`predict` runs a torchvision detector (eval mode) over a
:class:`~colormae.dense.detect.coco.CocoDetection` split and returns COCO results: ``image_id``,
``category_id`` (the JSON's own ids), ``bbox`` ``[x, y, w, h]`` in the original image's pixels,
``score``, and ``segmentation`` (RLE of the mask thresholded at 0.5, ``counts`` as text) when the model
predicts masks. :func:`coco_scores` feeds those to ``COCOeval`` against
the ground-truth JSON (crowd regions and area ranges as COCO defines them) and returns its 12 summary
numbers by name; :func:`summary` keeps AP, AP50, AP75, APs, APm, APl in percent.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from colormae.extras import require
from colormae.progress import progress as progress_bar
from colormae.ranks import rank_world

#: ``COCOeval.stats`` in order (``summarize()``'s 12 lines).
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
#: What ``detect.json`` and the summaries report per task.
REPORTED = STAT_NAMES[:6]
#: Mask probability threshold (torchvision / detectron2).
MASK_THRESHOLD = 0.5


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """A binary ``(H, W)`` mask as COCO RLE with text ``counts`` (JSON-ready)."""
    mask_util = require("pycocotools.mask", extra="dense", feature="COCO masks")

    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def to_results(output: dict[str, torch.Tensor], image_id: int, cat_ids: list[int]) -> list[dict[str, Any]]:
    """One image's detector output (``boxes`` xyxy, ``labels`` 1..K, ``scores``, ``masks`` ``(N, 1, H,
    W)``) as COCO results."""
    boxes = output["boxes"].float().cpu()
    xywh = torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1).tolist()
    labels = output["labels"].cpu().tolist()
    scores = output["scores"].float().cpu().tolist()
    masks = output.get("masks")
    if masks is not None:
        masks = (masks[:, 0] > MASK_THRESHOLD).cpu().numpy()
    results = []
    for i, (box, label, score) in enumerate(zip(xywh, labels, scores, strict=True)):
        record: dict[str, Any] = {"image_id": int(image_id), "category_id": int(cat_ids[label - 1]),
                                  "bbox": [round(v, 3) for v in box], "score": round(float(score), 5)}
        if masks is not None:
            record["segmentation"] = encode_mask(masks[i])
        results.append(record)
    return results


@torch.no_grad()
def predict(model: nn.Module, dataset: Any, *, device: str | torch.device = "cpu", batch_size: int = 4,
            progress: bool = False) -> list[dict[str, Any]]:
    """COCO results of ``model`` on every image of ``dataset`` (this rank's share under DDP, gathered to
    every rank). The loader has its own generator, so inference never advances the global RNG."""
    from colormae.dense.detect.coco import collate
    from colormae.train.distributed import DistInfo, all_gather_object

    rank, world = rank_world()
    shard = Subset(dataset, list(range(rank, len(dataset), world))) if world > 1 else dataset
    loader = DataLoader(shard, batch_size=batch_size, shuffle=False, num_workers=0, collate_fn=collate,
                        generator=torch.Generator())
    was_training = model.training
    model.eval()
    results: list[dict[str, Any]] = []
    for images, targets in progress_bar(loader, desc="val", leave=False, enabled=progress and rank == 0):
        outputs = model([im.to(device) for im in images])
        for out, target in zip(outputs, targets, strict=True):
            results += to_results(out, int(target["image_id"]), dataset_cat_ids(dataset))
    model.train(was_training)
    if world > 1:
        parts = all_gather_object(results, DistInfo(rank=rank, world_size=world))
        results = [r for part in parts for r in part]
    results.sort(key=lambda r: (r["image_id"], -r["score"]))
    return results


def dataset_cat_ids(dataset: Any) -> list[int]:
    """Category ids in label order of a (possibly wrapped) detection dataset."""
    while not hasattr(dataset, "cat_ids"):
        dataset = dataset.dataset
    return dataset.cat_ids


def coco_scores(gt: Any, results: list[dict[str, Any]], iou_type: str) -> dict[str, float]:
    """``COCOeval(gt, results, iou_type)``'s 12 summary numbers (fractions; -1 where COCO has no ground
    truth for an area range) by name. ``gt``: a ``COCO`` index or the path of a ground-truth JSON."""
    COCO = require("pycocotools.coco", extra="dense", feature="COCO evaluation").COCO
    COCOeval = require("pycocotools.cocoeval", extra="dense", feature="COCO evaluation").COCOeval

    from colormae.dense.detect.coco import read_coco

    if not isinstance(gt, COCO):
        gt = read_coco(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        if results:
            dt = gt.loadRes([dict(r) for r in results])
        else:  # pycocotools cannot load an empty result list: an empty index scores the same way
            dt = COCO()
            dt.dataset = {"images": gt.dataset["images"], "categories": gt.dataset["categories"],
                          "annotations": []}
            dt.createIndex()
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: float(v) for name, v in zip(STAT_NAMES, ev.stats, strict=True)}


def summary(scores: dict[str, float]) -> dict[str, float]:
    """AP, AP50, AP75, APs, APm, APl in percent (COCO's -1 "no ground truth" kept as -1)."""
    return {k: (100.0 * scores[k] if scores[k] >= 0 else -1.0) for k in REPORTED}


def evaluate_results(gt: Any, results: list[dict[str, Any]], masks: bool) -> dict[str, dict[str, float]]:
    """``{"box": summary, "mask": summary}`` (``mask`` only with masks) of ``results`` against ``gt``."""
    out = {"box": summary(coco_scores(gt, results, "bbox"))}
    if masks:
        out["mask"] = summary(coco_scores(gt, results, "segm"))
    return out
