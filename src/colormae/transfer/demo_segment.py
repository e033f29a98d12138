"""The demo's segmentation step: a short UperNet fine-tune on the built-in scenes, from the demo's
pretrained encoder and from a random one of the same shape, on the same recipe.

``colormae demo`` calls :func:`demo_segment` and puts its numbers in ``summary.json`` under ``segment``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colormae.jobs.segment import SegmentConfig

#: The demo's segmentation settings (mirrored by configs/segment_scenes_demo.yaml): 800 steps; the two
#: arms side by side take about 2 minutes on 2 CPU cores. The gap is a few mIoU points at this length and
#: noisy from seed to seed (docs/results.md).
DEMO_SEGMENT: dict[str, Any] = {
    "data": "scenes", "max_steps": 800, "warmup_steps": 40, "batch_size": 8, "crop_size": 32, "channels": 32,
    "aux_channels": 16, "dropout": 0.0, "lr": 5e-3, "layer_decay": 0.65, "ratio_range": [1.0, 1.0],
    "photometric": False, "num_workers": 0, "seed": 0, "figure": 6}
#: ``quick``: the smoke-test size.
QUICK = {"max_steps": 20, "warmup_steps": 2, "figure": 2}


def demo_segment(pretrain_dir: str | Path, out_dir: str | Path, device: str | None = None,
                 quick: bool = False, progress: bool = True, parallel: bool = True,
                 **overrides: Any) -> dict[str, Any]:
    """Fine-tune ``pretrain_dir``'s encoder and a random one on the scenes; returns
    ``{"pretrained": mIoU, "random_init": mIoU, "<key>_mAcc", "<key>_run", "data", "steps"}``.

    Runs go to ``out_dir/segment`` and ``out_dir/segment-random`` (each with segment.json and segment.png),
    side by side on a CPU with the cores (:func:`colormae.transfer.compare.compare`); ``overrides`` change
    :data:`DEMO_SEGMENT` settings.
    """
    from colormae.transfer.compare import compare
    from colormae.transfer.segment import segment

    settings = {**DEMO_SEGMENT, **(QUICK if quick else {}), **overrides, "device": device,
                "progress": progress}
    runs = compare(segment, SegmentConfig, settings, pretrain_dir=pretrain_dir, out=Path(out_dir),
                   name="segment", parallel=parallel)
    results: dict[str, Any] = {"data": settings["data"], "steps": settings["max_steps"], "metric": "mIoU"}
    for key, res in runs.items():
        results[key] = res["mIoU"]
        results[f"{key}_mAcc"] = res["mAcc"]
        results[f"{key}_run"] = res["run"]
    return results
