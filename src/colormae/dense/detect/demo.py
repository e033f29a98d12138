"""The demo's detection step: a short Mask R-CNN fine-tune on the built-in scenes, from the demo's pretrained
encoder and from a random one of the same shape, on the same recipe.

``colormae demo`` can call :func:`demo_detect` and put its numbers in ``summary.json`` under ``detect``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colormae.config import load_config
from colormae.jobs.detect import DetectConfig
from colormae.loading import preset_of

#: The demo's detection settings: 32 px scenes, a light pyramid and heads, a short schedule.
DEMO_DETECT: dict[str, Any] = {
    "data": "scenes", "max_steps": 300, "epochs": None, "warmup_steps": 20, "batch_size": 8, "img_size": 32,
    "window_size": 8, "pyramid_scales": [2.0, 1.0, 0.5], "fpn_channels": 32, "roi_batch": 64, "lr": 1e-3,
    "scale_range": [0.5, 2.0], "num_workers": 0, "seed": 0, "figure_images": 6, "log_every": 25}
#: ``quick``: the smoke-test size.
QUICK: dict[str, Any] = {"max_steps": 6, "warmup_steps": 2, "figure_images": 2}


def demo_detect(pretrain_dir: str | Path, out_dir: str | Path, device: str | None = None, quick: bool = False,
                progress: bool = True, **overrides: Any) -> dict[str, Any]:
    """Fine-tune ``pretrain_dir``'s encoder and a random one as detectors on the scenes; returns
    ``{"pretrained": box AP, "random_init": box AP, "<key>_mask_AP", "<key>_AP50", "<key>_run", ...}``.

    Runs go to ``out_dir/detect`` and ``out_dir/detect-random`` (each with detect.json, detections_val.json
    and detect.png); ``overrides`` change :data:`DEMO_DETECT` settings.
    """
    from colormae.dense.detect.train import detect
    from colormae.loading import load

    preset = preset_of(load(pretrain_dir))
    settings = {**DEMO_DETECT, **(QUICK if quick else {}), **overrides, "device": device,
                "progress": progress}
    out = Path(out_dir)
    results: dict[str, Any] = {"data": settings["data"], "steps": settings["max_steps"], "metric": "box AP"}
    for key, ckpt, run in (("pretrained", str(pretrain_dir), out / "detect"),
                           ("random_init", f"random:{preset}", out / "detect-random")):
        cfg = load_config(DetectConfig, values={**settings, "ckpt": ckpt, "out": str(run)})
        res = detect(cfg)
        results[key] = res["box"]["AP"]
        results[f"{key}_AP50"] = res["box"]["AP50"]
        if "mask" in res:
            results[f"{key}_mask_AP"] = res["mask"]["AP"]
        results[f"{key}_run"] = str(run)
    return results
