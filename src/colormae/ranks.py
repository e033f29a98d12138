"""Where this process sits among a job's processes, and the sum (or max, min) of a tensor over them.

Two questions with two answers, asked everywhere from progress bars up to the evaluators:

- *who prints and writes?* :func:`rank`: the process group's rank once ``torch.distributed`` is
  initialised, else torchrun's ``RANK`` (so it is right before the group exists, e.g. while a data set
  is scanned), 0 when unset or unreadable;
- *who shares the work?* :func:`rank_world`: ``(rank, world_size)`` of the initialised process group,
  ``(0, 1)`` without one; data are split, and counts reduced with :func:`all_reduce`, only over a group
  that exists.

:func:`env_ranks` reads torchrun's variables as they are (``train.distributed`` joins the group from
them). The module sits at the bottom of the layers: it imports nothing of colormae, and torch only when
a process group may exist (torch already imported), so the progress bars stay light.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor


def _group() -> Any | None:
    """``torch.distributed`` when its default process group is initialised, else None."""
    dist = sys.modules.get("torch.distributed")  # not imported: no group can exist
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist
    return None


def env_int(name: str, default: int) -> int:
    """The integer environment variable ``name`` (``default`` when unset or empty); ValueError if not one."""
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_ranks() -> tuple[int, int, int]:
    """``(RANK, LOCAL_RANK, WORLD_SIZE)`` as torchrun sets them (``(0, 0, 1)`` when unset); ValueError
    when one is not an integer."""
    return env_int("RANK", 0), env_int("LOCAL_RANK", 0), env_int("WORLD_SIZE", 1)


def rank() -> int:
    """This process's rank for printing and writing: the process group's, else ``RANK`` (0 if unset)."""
    dist = _group()
    if dist is not None:
        return int(dist.get_rank())
    try:
        return env_int("RANK", 0)
    except ValueError:
        return 0


def rank_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group, ``(0, 1)`` without one."""
    dist = _group()
    if dist is None:
        return 0, 1
    return int(dist.get_rank()), int(dist.get_world_size())


def all_reduce(tensor: Tensor, op: str = "sum") -> Tensor:
    """``tensor`` (any shape) reduced over the initialised process group by ``op`` (``"sum"``, ``"max"``,
    ``"min"``), on ``tensor``'s device; ``tensor`` itself without a group.

    The reduction happens in place when the backend takes the tensor where it is; nccl takes CUDA tensors
    only, so a CPU tensor (a count, a confusion matrix) goes to the current CUDA device and back.
    """
    dist = _group()
    if dist is None:
        return tensor
    import torch

    work = tensor
    if dist.get_backend() == "nccl" and tensor.device.type != "cuda":
        work = tensor.to(torch.device("cuda", torch.cuda.current_device()))
    dist.all_reduce(work, op=getattr(dist.ReduceOp, op.upper()))
    return work.to(tensor.device)
