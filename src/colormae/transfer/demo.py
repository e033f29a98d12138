"""The demo's dense steps: one short fine-tune per task (segmentation or detection) on the built-in scenes,
from the demo's pretrained encoder and from a random one of the same shape, on the same recipe.

A task is its shipped recipe (``segment_scenes_demo``, ``detect_scenes_demo``), a smaller ``quick``
size for smoke tests, its job and the numbers taken from the job's result; :func:`demo_dense` runs both
arms through :func:`colormae.transfer.compare.compare`. ``colormae demo`` puts the numbers in
``summary.json`` under the task's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colormae.config import read_yaml, recipe


def _segment_numbers(res: dict[str, Any]) -> dict[str, float]:
    return {"": res["mIoU"], "_mAcc": res["mAcc"]}


def _detect_numbers(res: dict[str, Any]) -> dict[str, float]:
    numbers = {"": res["box"]["AP"], "_AP50": res["box"]["AP50"]}
    if "mask" in res:
        numbers["_mask_AP"] = res["mask"]["AP"]
    return numbers


@dataclass(frozen=True)
class DenseTask:
    """One dense task of the demo: where its settings come from and which numbers it reports."""

    #: the shipped recipe of its settings
    recipe: str
    #: ``quick``: the smoke-test size, over the recipe
    quick: dict[str, Any]
    #: the headline number, as printed
    metric: str
    #: ``{suffix: value}`` of one arm's result; the ``""`` suffix is the headline number
    numbers: Callable[[dict[str, Any]], dict[str, float]]


#: The dense tasks by name (the name is also the job, its command and its run folder).
TASKS: dict[str, DenseTask] = {
    "segment": DenseTask("segment_scenes_demo", {"max_steps": 20, "warmup_steps": 2, "figure": 2}, "mIoU",
                         _segment_numbers),
    "detect": DenseTask("detect_scenes_demo", {"max_steps": 6, "warmup_steps": 2, "figure_images": 2},
                        "box AP", _detect_numbers),
}


def dense_settings(task: str, quick: bool = False) -> dict[str, Any]:
    """The settings of ``task``'s demo runs: its recipe, then (``quick``) the smoke-test size."""
    spec = TASKS[task]
    return {**read_yaml(recipe(spec.recipe)), **(spec.quick if quick else {})}


def demo_dense(task: str, pretrain_dir: str | Path, out_dir: str | Path, device: str | None = None,
               quick: bool = False, progress: bool = True, parallel: bool = True,
               **overrides: Any) -> dict[str, Any]:
    """Fine-tune ``pretrain_dir``'s encoder and a random one for ``task`` (``segment`` or ``detect``) on the
    scenes; returns ``{"data", "steps", "metric", "pretrained": x, "random_init": y}`` and per arm its other
    numbers (``<arm>_mAcc``; ``<arm>_AP50``, ``<arm>_mask_AP``) and ``<arm>_run``, its run folder.

    Runs go to ``out_dir/TASK`` and ``out_dir/TASK-random`` (each with the job's JSON and figure), side by
    side on a CPU with the cores; ``overrides`` change the recipe's settings.
    """
    from colormae.transfer.compare import compare

    spec = TASKS[task]
    if task == "segment":
        from colormae.jobs.segment import SegmentConfig as config_cls
        from colormae.transfer.segment import segment as job
    else:
        from colormae.jobs.detect import DetectConfig as config_cls
        from colormae.transfer.detect import detect as job
    settings = {**dense_settings(task, quick), **overrides, "device": device, "progress": progress}
    runs = compare(job, config_cls, settings, pretrain_dir=pretrain_dir, out=Path(out_dir), name=task,
                   parallel=parallel)
    results: dict[str, Any] = {"data": settings["data"], "steps": settings["max_steps"],
                               "metric": spec.metric}
    for key, res in runs.items():
        for suffix, value in spec.numbers(res).items():
            results[f"{key}{suffix}"] = value
        results[f"{key}_run"] = res["run"]
    return results
