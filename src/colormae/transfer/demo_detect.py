"""The demo's detection step: a short Mask R-CNN fine-tune on the built-in scenes, from the demo's pretrained
encoder and from a random one of the same shape, on the same recipe.

``colormae demo`` can call :func:`demo_detect` and put its numbers in ``summary.json`` under ``detect``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colormae.jobs.detect import DetectConfig

#: The demo's detection settings (mirrored by configs/detect_scenes_demo.yaml): 32 px scenes, boxes only
#: (Faster R-CNN), a light pyramid and heads, 250 steps; the two arms side by side take about 1.5 minutes on
#: 2 CPU cores.
DEMO_DETECT: dict[str, Any] = {
    "data": "scenes", "masks": False, "max_steps": 250, "epochs": None, "warmup_steps": 20, "batch_size": 8,
    "img_size": 32, "window_size": 8, "pyramid_scales": [2.0, 1.0, 0.5], "fpn_channels": 32, "roi_batch": 64,
    "lr": 1e-3, "scale_range": [1.0, 1.0], "num_workers": 0, "seed": 0, "figure_images": 6, "log_every": 25}
#: ``quick``: the smoke-test size.
QUICK: dict[str, Any] = {"max_steps": 6, "warmup_steps": 2, "figure_images": 2}


def demo_detect(pretrain_dir: str | Path, out_dir: str | Path, device: str | None = None, quick: bool = False,
                progress: bool = True, parallel: bool = True, **overrides: Any) -> dict[str, Any]:
    """Fine-tune ``pretrain_dir``'s encoder and a random one as detectors on the scenes; returns
    ``{"pretrained": box AP, "random_init": box AP, "<key>_AP50", "<key>_mask_AP", "<key>_run", ...}``.

    Runs go to ``out_dir/detect`` and ``out_dir/detect-random`` (each with detect.json, detections_val.json
    and detect.png), side by side on a CPU with the cores (:func:`colormae.transfer.compare.compare`);
    ``overrides`` change :data:`DEMO_DETECT` settings.
    """
    from colormae.transfer.compare import compare
    from colormae.transfer.detect import detect

    settings = {**DEMO_DETECT, **(QUICK if quick else {}), **overrides, "device": device,
                "progress": progress}
    runs = compare(detect, DetectConfig, settings, pretrain_dir=pretrain_dir, out=Path(out_dir),
                   name="detect", parallel=parallel)
    results: dict[str, Any] = {"data": settings["data"], "steps": settings["max_steps"], "metric": "box AP"}
    for key, res in runs.items():
        results[key] = res["box"]["AP"]
        results[f"{key}_AP50"] = res["box"]["AP50"]
        if "mask" in res:
            results[f"{key}_mask_AP"] = res["mask"]["AP"]
        results[f"{key}_run"] = res["run"]
    return results
