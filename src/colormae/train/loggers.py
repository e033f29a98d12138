"""Where a run's scalars and images go besides ``metrics.jsonl``: one interface, one class per service.

:class:`~colormae.train.metrics.MetricsLogger` writes ``metrics.jsonl`` itself and hands every scalar
and image to each backend of :func:`build_backends`: TensorBoard (``OUT/tb``, as always) and, with
``logger=wandb``, Weights & Biases as well (``OUT/wandb``; ``WANDB_MODE=offline`` keeps it on disk,
``WANDB_PROJECT`` names the project, default ``colormae``). Both receive the same tags
(``train/loss``, ``monitor/knn_top1``, ``monitor/recon``, ...) at the same steps, and W&B the run's
config. A backend is an object with ``scalars``, ``image`` and ``close``; adding a service is one class
and one line in :data:`BACKENDS`, nothing in the loop.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from torch import Tensor

from colormae.errors import UserError
from colormae.extras import install_hint, require
from colormae.progress import warn

TB_DIR = "tb"
#: ``logger=`` values and the backends each one turns on (TensorBoard is always on when installed).
LOGGERS = {"tensorboard": ("tensorboard",), "wandb": ("tensorboard", "wandb")}


class Backend(Protocol):
    """A logging service."""

    def scalars(self, values: dict[str, float], step: int) -> None:
        """Log finite scalars ``{tag: value}`` at ``step``."""

    def image(self, tag: str, image: Tensor, step: int) -> None:
        """Log an image ``(3, H, W)`` float in ``[0, 1]`` at ``step``."""

    def close(self) -> None:
        """Flush and release the service."""


@lru_cache(maxsize=1)
def summary_writer_class() -> type | None:
    """``torch.utils.tensorboard.SummaryWriter``; without tensorboard None, with one warning per process."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        warn("tensorboard is not installed: writing metrics.jsonl only "
             f"(for event files: {install_hint('viz')})")
        return None
    return SummaryWriter


class TensorBoardBackend:
    """``OUT/tb`` event files; ``start_step`` hides what an earlier attempt logged after it (purge_step)."""

    def __init__(self, run_dir: Path, start_step: int | None, config: dict[str, Any] | None = None) -> None:
        writer = summary_writer_class()
        assert writer is not None, "build_backends leaves TensorBoard out when it is not installed"
        purge = None if start_step is None else start_step + 1
        self.writer = writer(str(run_dir / TB_DIR), purge_step=purge)

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def image(self, tag: str, image: Tensor, step: int) -> None:
        self.writer.add_image(tag, image.clamp(0, 1).cpu(), step, dataformats="CHW")

    def close(self) -> None:
        self.writer.close()


class WandbBackend:
    """A W&B run in ``OUT/wandb`` named after the run directory, holding the run's config.

    Each start (a resume too) is a new W&B run: W&B refuses steps that go back, and a resumed run logs
    again from its checkpoint's step.
    """

    def __init__(self, run_dir: Path, start_step: int | None, config: dict[str, Any] | None = None) -> None:
        wandb = require("wandb", extra="wandb", feature="logger=wandb")
        self.wandb = wandb
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "colormae"), name=run_dir.name,
                              dir=str(run_dir), config=config or {}, reinit="create_new")

    def scalars(self, values: dict[str, float], step: int) -> None:
        self.run.log(dict(values), step=step)

    def image(self, tag: str, image: Tensor, step: int) -> None:
        pixels = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
        self.run.log({tag: self.wandb.Image(pixels)}, step=step)

    def close(self) -> None:
        self.run.finish()


BACKENDS = {"tensorboard": TensorBoardBackend, "wandb": WandbBackend}


def build_backends(logger: str, run_dir: Path, *, start_step: int | None, config: dict[str, Any] | None,
                   tensorboard: bool = True) -> list[Backend]:
    """The backends of ``logger`` (:data:`LOGGERS`) for ``run_dir``; ``tensorboard=False`` leaves TB out."""
    if logger not in LOGGERS:
        raise UserError(f"logger: {logger!r} is not one of {', '.join(LOGGERS)}")
    with_tb = tensorboard and summary_writer_class() is not None
    names = [n for n in LOGGERS[logger] if with_tb or n != "tensorboard"]
    return [BACKENDS[n](run_dir, start_step, config) for n in names]
