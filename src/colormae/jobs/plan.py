"""``colormae plan``: its own options (the rest of its command line is ``colormae pretrain``'s settings)."""

from __future__ import annotations

from dataclasses import dataclass

#: How ``colormae plan`` estimates the largest batch on a CPU (printed by ``--help``).
CPU_RULE = ("CPU: largest batch = (0.9 x (available memory + this process's RSS) - base) / RSS per image, "
            "where RSS per image is the rise of the peak RSS of one training step from batch B/2 to B "
            "(B = batch_size) and base is the peak at B less B x that")


@dataclass(frozen=True)
class PlanOptions:
    """How much ``colormae plan`` measures."""

    steps: int = 20          #: timed steps (after the warm-up)
    warmup: int = 5          #: untimed steps first (workers, allocator, autotuning)
    max_batch: int = 4096    #: the batch search goes no higher
    search: bool = True      #: search the largest batch that fits
