"""Run one dense job twice on the same recipe - from a pretrained encoder and from a random one of the same
shape - side by side when the CPU has the cores for it.

The demo's segmentation and detection steps (:mod:`colormae.transfer.demo_segment`,
:mod:`colormae.transfer.demo_detect`)
are both this comparison. On CPU the two arms run in two processes with half the cores each: a tiny
model's ops are too small to keep two threads busy, so two one-thread runs finish in about the time of one
two-thread run (``benchmarks/dense_arms.py`` measures the ratio: 1.25).

Each arm is a fresh interpreter (``python -m colormae.transfer.compare TASK RESULT``) rather than a
``multiprocessing`` child: spawn would re-run the caller's ``__main__``, which breaks any user script
without an ``if __name__ == "__main__"`` guard, and fork is unsafe once torch's thread pools exist.
Ctrl-C reaches both arms, which save a checkpoint; running again resumes them.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from colormae.config import load_config
from colormae.errors import UserError

#: ``(key, run folder suffix)`` of the two arms; the pretrained run has no suffix.
ARMS = (("pretrained", ""), ("random_init", "-random"))


def _side_by_side(job: Callable[[Any], dict[str, Any]], configs: dict[str, Any], threads: int
                  ) -> dict[str, dict[str, Any]]:
    """Run ``job(cfg)`` for every config at once, one process each with ``threads`` threads."""
    with tempfile.TemporaryDirectory(prefix="colormae-arms-") as tmp:
        results = {key: Path(tmp) / f"{key}.result" for key in configs}
        procs = {}
        for key, cfg in configs.items():
            task = Path(tmp) / f"{key}.task"
            task.write_bytes(pickle.dumps((job, cfg)))
            procs[key] = subprocess.Popen([sys.executable, "-m", __name__, str(task), str(results[key])],
                                          env={**os.environ, "OMP_NUM_THREADS": str(threads)})
        try:
            codes = {key: proc.wait() for key, proc in procs.items()}
        except KeyboardInterrupt:  # the arms got the same signal: let them save their checkpoints
            for proc in procs.values():
                proc.wait()
            raise
        if 130 in codes.values():
            raise KeyboardInterrupt  # an arm stopped on a signal (and saved a checkpoint)
        failed = [f"{key} (exit code {code})" for key, code in codes.items() if code]
        if failed:
            raise UserError(f"the {' and '.join(failed)} run failed (its messages are above); running the "
                            "same command again continues from the last checkpoints")
        # our own files, written just now by our own worker
        return {key: pickle.loads(path.read_bytes()) for key, path in results.items()}


def _worker(task: str, result: str) -> int:
    """One arm: run the pickled ``(job, config)`` of ``task``, pickle its result to ``result`` (torch takes
    its thread count from the ``OMP_NUM_THREADS`` the parent set)."""
    job, cfg = pickle.loads(Path(task).read_bytes())
    try:
        out = job(cfg)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    Path(result).write_bytes(pickle.dumps(out))
    return 0


def arm_threads(device: str | None, arms: int = len(ARMS)) -> int:
    """Threads per arm when the arms can run side by side on this machine's CPU, else 0 (run in turn)."""
    import torch

    from colormae.train.threads import available_cores

    name = (device or "auto").lower()  # the CPU when train.distributed.resolve_device would pick it
    if name != "cpu" and (name != "auto" or torch.cuda.is_available()):
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
    if threads:
        results = _side_by_side(job, configs, threads)
    else:
        results = {key: job(cfg) for key, cfg in configs.items()}
    return {key: {**res, "run": configs[key].out} for key, res in results.items()}


if __name__ == "__main__":
    sys.exit(_worker(*sys.argv[1:3]))
