"""Run one dense job twice on the same recipe - from a pretrained encoder and from a random one of the same
shape - side by side when the CPU has the cores for it.

The demo's segmentation and detection steps (:mod:`colormae.dense.demo`, :mod:`colormae.dense.detect.demo`)
are both this comparison. On CPU the two arms run in two processes with half the cores each: a tiny
model's ops are too small to keep two threads busy, so two one-thread runs finish in about the time of one
two-thread run (``benchmarks/dense_arms.py`` measures the ratio).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from colormae.config import load_config

#: ``(key, run folder suffix)`` of the two arms; the pretrained run has no suffix.
ARMS = (("pretrained", ""), ("random_init", "-random"))


def _run_arm(job: Callable[[Any], dict[str, Any]], cfg: Any, threads: int) -> dict[str, Any]:
    """One arm in a child process: its own thread count, then the job."""
    import torch

    torch.set_num_threads(threads)
    return job(cfg)


def arm_threads(device: str | None, arms: int = len(ARMS)) -> int:
    """Threads per arm when the arms can run side by side on this machine's CPU, else 0 (run in turn)."""
    import torch

    from colormae.train.threads import available_cores

    if device not in (None, "cpu", "auto") or (device != "cpu" and torch.cuda.is_available()):
        return 0
    # not less the busy cores (as train.threads does): the load average still counts the demo's own
    # pretraining a minute later, and on a loaded machine one thread per arm is the better choice anyway
    cores = available_cores()
    return cores // arms if cores >= arms else 0


def compare(job: Callable[[Any], dict[str, Any]], config_cls: type, settings: dict[str, Any], *,
            pretrain_dir: str | Path, out: Path, name: str, parallel: bool = True
            ) -> dict[str, dict[str, Any]]:
    """``{"pretrained": result, "random_init": result}`` of ``job(config_cls(**settings, ckpt, out))``, each
    result with ``"run"``: its run folder.

    The runs go to ``out/name`` (from ``pretrain_dir``) and ``out/name-random`` (from
    ``random:<its preset>``); both resume automatically, so running the demo again reuses finished
    runs. ``parallel``: side by side when :func:`arm_threads` allows.
    """
    from colormae.loading import load, preset_of

    preset = preset_of(load(pretrain_dir))
    configs = {key: load_config(config_cls, values={
        **settings, "resume": "auto", "out": str(out / f"{name}{suffix}"),
        "ckpt": str(pretrain_dir) if key == "pretrained" else f"random:{preset}"}) for key, suffix in ARMS}
    threads = arm_threads(settings.get("device")) if parallel else 0
    if not threads:
        return {key: {**job(cfg), "run": cfg.out} for key, cfg in configs.items()}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(len(configs), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {key: pool.submit(_run_arm, job, cfg, threads) for key, cfg in configs.items()}
        return {key: {**future.result(), "run": configs[key].out} for key, future in futures.items()}
