"""torchrun / DDP plumbing: process-group init from environment variables, rank-0 helpers, seeding.

``torchrun --nproc_per_node=N -m colormae pretrain ...`` sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT``; multi-node runs get them from torchrun's rendezvous. Without them
we run as a single process. Backend: NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as tdist

from colormae.errors import UserError


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
        return DistInfo(rank=int(os.environ.get("RANK", 0)), local_rank=int(os.environ.get("LOCAL_RANK", 0)),
                        world_size=int(os.environ.get("WORLD_SIZE", 1)))
    except ValueError as err:
        raise UserError(f"bad torchrun environment variable: {err}") from err


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
                                 world_size=info.world_size, **kwargs)
    return info, dev


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
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
    except ValueError as err:
        raise UserError(f"bad torchrun environment variable LOCAL_WORLD_SIZE: {err}") from err


def control_group(info: DistInfo) -> Any:
    """A process group for small host-side agreements (stop requests): gloo, CPU tensors.

    With NCCL an all-reduce of a flag would need a GPU tensor and a device sync to read it; a gloo
    group over the same ranks costs one network round trip and never waits for the GPU. ``None`` (the
    default group) when the job already runs on gloo, or when not distributed. Collective: every rank
    must call it.
    """
    if not (info.distributed and tdist.is_initialized()) or tdist.get_backend() == "gloo":
        return None
    return tdist.new_group(backend="gloo")


def max_over_ranks(value: int, info: DistInfo, group: Any = None) -> int:
    """The largest ``value`` of all ranks (one 1-element all-reduce on CPU; ``value`` for one process).

    E.g. a stop request's signal number (0: none), so every rank stops at the same step and knows why.
    ``group`` comes from :func:`control_group`. Every rank must call it at the same point.
    """
    if not (info.distributed and tdist.is_initialized()):
        return value
    tensor = torch.tensor([value], dtype=torch.int64)
    tdist.all_reduce(tensor, op=tdist.ReduceOp.MAX, group=group)
    return int(tensor.item())


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and python ``random``; pass ``seed + rank`` for per-rank streams."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
