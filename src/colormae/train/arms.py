"""Run a few jobs ("arms") at once, each in a fresh interpreter with its own share of the threads.

A comparison runs one recipe from several starting points (the demo's pretrained vs random-init encoder,
the sweep's arms); here each is a separate process, so arms on a CPU can share its cores, and a process's
peak memory is its own arm's. Each arm is ``python -m colormae.train.arms TASK RESULT`` rather than a
``multiprocessing`` child: spawn re-imports the caller's ``__main__``, which breaks a user script without
an ``if __name__ == "__main__"`` guard, and fork is unsafe once torch's thread pools exist. Ctrl-C reaches
every arm; each saves a checkpoint and stops, the caller then stops too, and running again resumes. A
failed arm is one error line naming it (its own messages are above it).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from colormae.errors import UserError

#: Exit code of an arm stopped by Ctrl-C (the shell's 128 + SIGINT).
INTERRUPTED = 130


def run_arms(calls: Mapping[str, Callable[[], Any]], threads: int, *, what: str = "run",
             again: str = "running the same command again continues from the last checkpoints"
             ) -> dict[str, Any]:
    """``{key: call()}`` for every call at once, each in its own interpreter with ``threads`` threads.

    ``calls`` must pickle (module-level functions, ``functools.partial`` of them) and so must their
    results. A failure raises one :class:`UserError`: ``the <key> (exit code N) <what> failed ...;
    <again>``; an arm stopped by Ctrl-C raises :class:`KeyboardInterrupt` once every arm has stopped.
    """
    with tempfile.TemporaryDirectory(prefix="colormae-arms-") as tmp:
        results = {key: Path(tmp) / f"{i}.result" for i, key in enumerate(calls)}
        procs = {}
        for i, (key, call) in enumerate(calls.items()):
            task = Path(tmp) / f"{i}.task"
            task.write_bytes(pickle.dumps(call))
            procs[key] = subprocess.Popen([sys.executable, "-m", __name__, str(task), str(results[key])],
                                          env={**os.environ, "OMP_NUM_THREADS": str(threads)})
        try:
            codes = {key: proc.wait() for key, proc in procs.items()}
        except KeyboardInterrupt:  # the arms got the same signal: let them save their checkpoints
            for proc in procs.values():
                proc.wait()
            raise
        if INTERRUPTED in codes.values():
            raise KeyboardInterrupt  # an arm stopped on a signal (and saved a checkpoint)
        failed = [f"{key} (exit code {code})" for key, code in codes.items() if code]
        if failed:
            raise UserError(f"the {' and '.join(failed)} {what} failed (its messages are above); {again}")
        # our own files, written just now by our own worker
        return {key: pickle.loads(path.read_bytes()) for key, path in results.items()}


def arm_threads(device: str | None, arms: int = 2) -> int:
    """Threads per arm when ``arms`` arms can run side by side on this machine's CPU, else 0 (run in turn)."""
    import torch

    from colormae.train.threads import available_cores

    name = (device or "auto").lower()  # the CPU when train.distributed.resolve_device would pick it
    if name != "cpu" and (name != "auto" or torch.cuda.is_available()):
        return 0
    # not less the busy cores (as train.threads does): the load average still counts work that just
    # finished (the demo's own pretraining), and on a loaded machine one thread per arm is the better choice
    cores = available_cores()
    return cores // arms if cores >= arms else 0


def _worker(task: str, result: str) -> int:
    """One arm: run the pickled call of ``task``, pickle its result to ``result`` (torch takes its thread
    count from the ``OMP_NUM_THREADS`` the parent set)."""
    call = pickle.loads(Path(task).read_bytes())
    try:
        out = call()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return INTERRUPTED
    Path(result).write_bytes(pickle.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(_worker(*sys.argv[1:3]))
