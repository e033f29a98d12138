"""The settings of one training loop, gathered in one typed object.

:func:`colormae.train.engine.fit` takes them as keywords; a job builds them once from its config
(:func:`colormae.train.job.loop_settings`) instead of copying its fields one by one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from colormae.errors import UserError

#: Mixed-precision modes of the loop (a job's ``auto`` is resolved before: :func:`resolve_amp`).
AMP_MODES = ("none", "bf16", "fp16")


def resolve_amp(amp: str, device_type: str) -> str:
    """A job's ``amp`` setting for the loop: ``auto`` is bf16 on CUDA and none elsewhere."""
    if amp == "auto":
        return "bf16" if device_type == "cuda" else "none"
    return amp


@dataclass(frozen=True)
class LoopSettings:
    """How long and how :func:`~colormae.train.engine.fit` trains, where it writes and how it resumes."""

    epochs: int | None                 #: full passes over the loader (None: ``max_steps`` alone)
    max_steps: int | None = None       #: cap on optimizer steps
    accum_steps: int = 1               #: micro-batches per optimizer step
    amp: str = "none"                  #: one of :data:`AMP_MODES`
    grad_clip: float | None = None     #: global gradient-norm clip
    compile: bool = False              #: ``torch.compile`` the model
    out_dir: Path | None = None        #: run directory (None: nothing is written)
    ckpt_every: int = 1000             #: checkpoint interval in steps (0: only the final one)
    keep_last: int = 3                 #: newest step checkpoints kept (0: all)
    log_every: int = 10                #: metrics interval in steps
    resume: str | Path | bool | None = None  #: what :func:`~colormae.train.engine.resolve_resume` takes
    stop_at_step: int | None = None    #: stop early at this step, as if interrupted
    progress: bool = True              #: show a progress bar (rank 0)
    desc: str = "train"                #: the progress bar's label
    on_diverge: str = "stop"           #: ``stop`` or ``recover`` (:mod:`colormae.train.recover`)
    max_recoveries: int = 3            #: recoveries allowed before a diverged run stops
    recover_lr_factor: float = 0.5     #: the lr's multiplier per ``lower_lr`` remedy

    def check(self, device_type: str) -> None:
        """Raise :class:`UserError` for settings the loop cannot run on ``device_type``."""
        if self.amp not in AMP_MODES:
            raise UserError(f"amp: {self.amp!r} is not one of {', '.join(AMP_MODES)}")
        if self.amp == "fp16" and device_type != "cuda":
            raise UserError("amp: fp16 needs a CUDA device (use bf16 on CPU)")
        if self.on_diverge not in ("stop", "recover"):
            raise UserError(f"on_diverge: {self.on_diverge!r} is not one of stop, recover")
        if self.accum_steps < 1:
            raise UserError(f"accum_steps: must be >= 1, got {self.accum_steps}")

    def as_kwargs(self) -> dict[str, Any]:
        """The settings as :func:`~colormae.train.engine.fit`'s keywords."""
        return asdict(self)
