"""The demo's segmentation step: a short UperNet fine-tune on the built-in scenes, from the demo's
pretrained encoder and from a random one of the same shape, on the same recipe.

``colormae demo`` calls :func:`demo_segment` and puts its numbers in ``summary.json`` under ``segment``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colormae.config import load_config
from colormae.jobs.segment import SegmentConfig
from colormae.loading import preset_of

#: The demo's segmentation settings. Measured on 2 shared CPU cores from the configs/cpu_demo.yaml checkpoint
#: (about 6 minutes each): pretrained 24.30 mIoU, random init 18.42 (+5.9); at 900 steps the gap was 3.5.
DEMO_SEGMENT = {"data": "scenes", "max_steps": 1500, "warmup_steps": 75, "batch_size": 8, "crop_size": 32,
                "channels": 32, "aux_channels": 16, "lr": 5e-3, "layer_decay": 0.65,
                "ratio_range": [1.0, 1.0], "photometric": False, "num_workers": 0, "seed": 0, "figure": 6}
#: ``quick``: the smoke-test size.
QUICK = {"max_steps": 20, "warmup_steps": 2, "figure": 2}


def demo_segment(pretrain_dir: str | Path, out_dir: str | Path, device: str | None = None,
                 quick: bool = False,
                 progress: bool = True) -> dict[str, Any]:
    """Fine-tune ``pretrain_dir``'s encoder and a random one on the scenes; returns
    ``{"pretrained": mIoU, "random_init": mIoU, "pretrained_run": dir, "random_init_run": dir, ...}``.

    Runs go to ``out_dir/segment`` and ``out_dir/segment-random`` (each with segment.json and segment.png).
    """
    from colormae.dense.train import segment
    from colormae.loading import load

    preset = preset_of(load(pretrain_dir))
    settings = {**DEMO_SEGMENT, **(QUICK if quick else {}), "device": device, "progress": progress}
    out = Path(out_dir)
    results: dict[str, Any] = {"data": settings["data"], "steps": settings["max_steps"]}
    for key, ckpt, run in (("pretrained", str(pretrain_dir), out / "segment"),
                           ("random_init", f"random:{preset}", out / "segment-random")):
        cfg = load_config(SegmentConfig, values={**settings, "ckpt": ckpt, "out": str(run)})
        res = segment(cfg)
        results[key] = res["mIoU"]
        results[f"{key}_mAcc"] = res["mAcc"]
        results[f"{key}_run"] = str(run)
    return results
