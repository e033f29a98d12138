"""torchrun / DDP plumbing: process-group init from environment variables, rank-0 helpers, seeding.

``torchrun --nproc_per_node=N -m colormae pretrain ...`` sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT``; multi-node runs get them from torchrun's rendezvous. Without them
we run as a single process. Backend: NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as tdist

from colormae.errors import UserError
from colormae.ranks import env_int, env_ranks


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that logs, shows progress and writes checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1


def env_dist_info() -> DistInfo:
    """The :class:`DistInfo` described by torchrun's environment variables (single process if unset)."""
    try:
        rank, local_rank, world_size = env_ranks()
    except ValueError as err:
        raise UserError(f"bad torchrun environment variable: {err}") from err
    return DistInfo(rank=rank, local_rank=local_rank, world_size=world_size)


def resolve_device(device: str | None, info: DistInfo) -> torch.device:
    """``None``/``"auto"``: CUDA if available else CPU; with several processes, ``cuda:LOCAL_RANK``."""
    name = (device or "auto").lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError as err:
        raise UserError(f"--device: unknown device {device!r} (use cpu, cuda, cuda:N or auto)") from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"--device {device}: CUDA is not available on this machine")
        if info.distributed or dev.index is None:
            dev = torch.device("cuda", info.local_rank if info.distributed else torch.cuda.current_device())
        torch.cuda.set_device(dev)
    return dev


def init_distributed(device: str | None = None) -> tuple[DistInfo, torch.device]:
    """Read torchrun's variables, pick the device and join the process group when ``WORLD_SIZE > 1``."""
    info = env_dist_info()
    dev = resolve_device(device, info)
    if info.distributed and not tdist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        kwargs: dict[str, Any] = {"device_id": dev} if dev.type == "cuda" else {}
        tdist.init_process_group(backend=backend, init_method="env://", rank=info.rank,
                                 world_size=info.world_size, timeout=collective_timeout(), **kwargs)
    return info, dev


#: Seconds a collective waits for a process that stopped answering before every other one gives up (a
#: killed rank, a lost node); ``COLORMAE_DIST_TIMEOUT`` changes it. It must outlast rank 0's longest
#: checkpoint write (the other ranks wait for it at the next step), hence minutes, not torch's 10 / 30.
DIST_TIMEOUT_S = 300


def collective_timeout() -> timedelta:
    """The process group's collective timeout: ``COLORMAE_DIST_TIMEOUT`` seconds or :data:`DIST_TIMEOUT_S`."""
    try:
        seconds = env_int("COLORMAE_DIST_TIMEOUT", DIST_TIMEOUT_S)
    except ValueError as err:
        raise UserError(f"bad environment variable COLORMAE_DIST_TIMEOUT: {err}") from err
    if seconds < 1:
        raise UserError(f"COLORMAE_DIST_TIMEOUT must be a positive number of seconds, got {seconds}")
    return timedelta(seconds=seconds)


class LostRank(UserError):
    """Another process of the torchrun job died or stopped answering; this one leaves too."""


def is_lost_peer(err: BaseException) -> bool:
    """Whether ``err`` is a collective that failed because a peer is gone (closed socket, timeout)."""
    if isinstance(err, getattr(tdist, "DistError", ())):
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and any(s in text for s in (
        "Connection closed by peer", "Connection reset by peer", "gloo", "NCCL", "Timed out", "timed out"))


def collective_error_line(err: BaseException) -> str:
    """What a failed collective said, short: its first sentence without the C++ source location (gloo's
    ``[.../pair.cc:561] Connection closed by peer [127.0.0.1]:41349. This is ...`` -> ``Connection closed
    by peer [127.0.0.1]:41349``)."""
    text = str(err).strip()
    if not text:
        return type(err).__name__
    first = re.sub(r"^\[[^\]]*\]\s*", "", text.splitlines()[0])
    return first.split(". ")[0].rstrip(".")[:160] or type(err).__name__


def cleanup_distributed() -> None:
    """Leave the process group (no-op when not in one)."""
    if tdist.is_available() and tdist.is_initialized():
        tdist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op for one process)."""
    if info.distributed and tdist.is_initialized():
        tdist.barrier()


def all_gather_object(obj: Any, info: DistInfo) -> list[Any]:
    """Every rank's ``obj``, in rank order (``[obj]`` for one process)."""
    if not (info.distributed and tdist.is_initialized()):
        return [obj]
    out: list[Any] = [None] * info.world_size
    tdist.all_gather_object(out, obj)
    return out


def local_world_size() -> int:
    """Processes of this job on this machine (torchrun's ``LOCAL_WORLD_SIZE``; 1 when unset)."""
    try:
        return max(1, env_int("LOCAL_WORLD_SIZE", 1))
    except ValueError as err:
        raise UserError(f"bad torchrun environment variable LOCAL_WORLD_SIZE: {err}") from err


class RankVote:
    """Ranks agree on a small number (the largest wins) once per step, without waiting for each other.

    :meth:`submit` starts an all-reduce (MAX) of this rank's value and returns the agreed value of the
    *previous* call: the collective overlaps a whole step, so its network round trip (a ring over all
    ranks) never delays training. Every rank gets the same answer at the same call, so all act on it at
    the same step, one step after the request. It runs on its own gloo group of CPU tensors: no GPU
    sync, no interleaving with DDP's gradient all-reduces. For one process, :meth:`submit` returns its
    value at once. Creating it is collective (every rank, same point), as is every :meth:`submit`.
    """

    def __init__(self, info: DistInfo) -> None:
        self.active = info.distributed and tdist.is_initialized()
        self._group = tdist.new_group(backend="gloo") if self.active else None
        self._pending: tuple[Any, torch.Tensor] | None = None

    def submit(self, value: int) -> int:
        """Offer ``value``; returns the largest value all ranks offered at the previous call (0 at first)."""
        if not self.active:
            return value
        agreed = self.finish()
        tensor = torch.tensor([value], dtype=torch.int64)
        work = tdist.all_reduce(tensor, op=tdist.ReduceOp.MAX, group=self._group, async_op=True)
        self._pending = (work, tensor)
        return agreed

    def finish(self) -> int:
        """Wait for the vote in flight, if any, and return its result (0 if none)."""
        if self._pending is None:
            return 0
        work, tensor = self._pending
        self._pending = None
        work.wait()
        return int(tensor.item())


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and python ``random``; pass ``seed + rank`` for per-rank streams."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
