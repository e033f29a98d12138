"""Run one dense job twice on the same recipe - from a pretrained encoder and from a random one of the same
shape - so that the difference between the two numbers is what pretraining bought.

The demo's segmentation and detection steps (:mod:`colormae.transfer.demo`) are this comparison. On a CPU
with the cores for it the two arms run side by side, half the cores each (:mod:`colormae.train.arms`): a
tiny model's ops are too small to keep many threads busy, so two arms at once finish sooner than two in
turn (``benchmarks/dense_arms.py`` measures it). Both runs resume automatically.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from colormae.config import load_config
from colormae.train.arms import arm_threads, run_arms

#: ``(key, run folder suffix)`` of the two arms; the pretrained run has no suffix.
ARMS = (("pretrained", ""), ("random_init", "-random"))


def compare(job: Callable[[Any], dict[str, Any]], config_cls: type, settings: dict[str, Any], *,
            pretrain_dir: str | Path, out: Path, name: str, parallel: bool = True
            ) -> dict[str, dict[str, Any]]:
    """``{"pretrained": result, "random_init": result}`` of ``job(config_cls(**settings, ckpt, out))``, each
    result with ``"run"``: its run folder.

    The runs go to ``out/name`` (from ``pretrain_dir``) and ``out/name-random`` (from
    ``random:<its preset>``); both resume automatically, so running the demo again reuses finished
    runs. ``parallel``: side by side when :func:`~colormae.train.arms.arm_threads` allows.
    """
    from colormae.loading import load, preset_of

    preset = preset_of(load(pretrain_dir))
    configs = {key: load_config(config_cls, values={
        **settings, "resume": "auto", "out": str(out / f"{name}{suffix}"),
        "ckpt": str(pretrain_dir) if key == "pretrained" else f"random:{preset}"}) for key, suffix in ARMS}
    threads = arm_threads(settings.get("device")) if parallel else 0
    if threads:
        results = run_arms({key: partial(job, cfg) for key, cfg in configs.items()}, threads)
    else:
        results = {key: job(cfg) for key, cfg in configs.items()}
    return {key: {**res, "run": configs[key].out} for key, res in results.items()}
