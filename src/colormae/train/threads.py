"""How many intra-op threads torch may use, so that processes sharing a machine do not oversubscribe it.

torch starts one intra-op thread per core it sees. Under torchrun every local process does so (N
processes x all cores), and on a machine that is busy with other work the threads wait for each other at
every parallel region: on a loaded 2-core machine the tiny demo's step ran 2-10x slower with 2 threads
than with 1. :func:`choose_threads` gives each process its share of the cores it may run on, less the
cores other work keeps busy; an explicit ``threads`` setting (or ``OMP_NUM_THREADS``) wins.
"""

from __future__ import annotations

import os

import torch

from colormae.errors import UserError


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity: taskset, cgroup cpusets, SLURM), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def busy_cores() -> int:
    """Cores kept busy by other work: the 1-minute load average less this process, rounded (0 if unknown)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0
    return max(0, round(load - 1.0))


def _torchrun_default(value: str) -> bool:
    """torchrun sets ``OMP_NUM_THREADS=1`` for every worker when the user did not set it."""
    return value == "1" and "TORCHELASTIC_RUN_ID" in os.environ


def choose_threads(threads: int | None, local_world_size: int = 1) -> int:
    """Intra-op threads for one of ``local_world_size`` processes on this machine.

    ``threads`` (>= 1) is used as given. Otherwise ``OMP_NUM_THREADS`` when the user set it (torchrun's
    own default of 1 does not count), else ``max(1, (available - busy) // local_world_size)``: this
    process's share of the cores it may run on that other work does not already keep busy.
    """
    if threads is not None:
        if int(threads) < 1:
            raise UserError(f"threads: must be at least 1 (or unset for automatic), got {threads}")
        return int(threads)
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env and not _torchrun_default(env):
        try:
            return max(1, int(env))
        except ValueError as err:
            raise UserError(f"OMP_NUM_THREADS: not a whole number: {env!r}") from err
    idle = max(1, available_cores() - busy_cores())
    return max(1, idle // max(1, local_world_size))


def configure_threads(threads: int | None, local_world_size: int = 1) -> int:
    """Set torch's intra-op threads to :func:`choose_threads` and return the number.

    Call it once per process at the start of a job (after reading ``LOCAL_WORLD_SIZE``). Floating-point
    sums can depend on the thread count, so a bit-exact resume on CPU wants the same count: set
    ``threads`` explicitly when a run may resume on another machine or under another load.
    """
    n = choose_threads(threads, local_world_size)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
