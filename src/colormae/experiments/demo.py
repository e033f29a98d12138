"""``colormae demo``: pretrain a small ColorMAE-G on built-in data, then show what it learned - probes,
figures, and dense transfer - against a random-init encoder of the same shape.

The demo is a list of :data:`STEPS`, each ``(name, function(ctx))`` sharing one :class:`DemoContext`;
a step is added by appending to the list. Every step reads what it needs from ``ctx`` and records its
outputs in ``ctx.artifacts`` (printed at the end) and its numbers in ``ctx.summary`` (``summary.json``).

The pretraining settings are the shipped recipe ``cpu_demo`` (``configs/cpu_demo.yaml``:
``mae_vit_tiny_32px`` on ``mnist5k`` with green-noise masks at 75 %, sized for a laptop CPU). The last
two steps (:data:`DENSE_STEPS`, ``--no-dense`` leaves them out) fine-tune segmentation and detection on
the built-in scenes from the checkpoint and from random init (:mod:`colormae.transfer.demo`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colormae.config import load_config, recipe
from colormae.files import atomic_write_text
from colormae.jobs.demo import DemoConfig
from colormae.jobs.pretrain import PretrainConfig

#: The shipped recipe of the demo's pretraining.
RECIPE = "cpu_demo"
#: ``--quick``: a few steps only (tests and smoke checks), over the recipe.
QUICK_SETTINGS: dict[str, Any] = {"epochs": 1, "max_steps": 4, "batch_size": 32, "log_every": 1}
#: Where the demo's numbers go.
SUMMARY = "summary.json"
#: Validation images shown in the figures.
FIGURE_IMAGES = 4


@dataclass
class DemoContext:
    """What the demo steps share: where to write, options, and what each step produced."""

    out: Path
    quick: bool = False
    device: str | None = None
    config: PretrainConfig | None = None
    results: dict[str, Any] = field(default_factory=dict)
    artifacts: list[tuple[str, Path]] = field(default_factory=list)
    #: every demo number, ``{evaluation: {"pretrained": x, "random_init": y}}``, written to summary.json
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def pretrain_dir(self) -> Path:
        """Run directory of the pretraining step (``--quick`` runs keep apart from full ones)."""
        return self.out / ("pretrain_quick" if self.quick else "pretrain")


def demo_config(quick: bool = False, **runtime: Any) -> PretrainConfig:
    """The demo's :class:`PretrainConfig` (``quick``: a few steps); ``runtime``: ``out``, ``device``, ..."""
    return load_config(PretrainConfig, recipe(RECIPE), values={**(QUICK_SETTINGS if quick else {}),
                                                               **runtime})


def step_pretrain(ctx: DemoContext) -> None:
    """Pretrain (or finish / reuse an earlier demo run in the same folder: resume is automatic)."""
    from colormae.pretrain.run import pretrain

    ctx.config = demo_config(ctx.quick, out=str(ctx.pretrain_dir), resume="auto", device=ctx.device)
    result = pretrain(ctx.config)
    ctx.results["pretrain_loss"] = result.loss
    ctx.results["pretrain_checkpoint"] = result.checkpoint
    ctx.artifacts.append(("pretraining run (checkpoints, metrics.jsonl, tb/)", ctx.pretrain_dir))


def step_probes(ctx: DemoContext) -> None:
    """Linear probe and k-NN on mnist5k: the pretrained encoder against a random-init one."""
    from colormae.experiments.demo_probes import demo_probes

    probes = demo_probes(ctx.pretrain_dir, device=ctx.device or "cpu", quick=ctx.quick)
    table = probes.pop("table")
    ctx.results["probes"] = table
    ctx.summary.update(probes)
    atomic_write_text(ctx.out / "probes.md", table + "\n")
    print(table)
    ctx.artifacts.append(("probe table (also eval/probes.json in the run)", ctx.out / "probes.md"))


def step_figures(ctx: DemoContext) -> None:
    """The figure set on validation digits: reconstructions under every masking, [CLS] attention,
    EigenCAM, patterns and their spectra, masks, loss curve."""
    from colormae.data import sample_images
    from colormae.models.presets import resolve_config
    from colormae.viz.figures import demo_figures

    cfg = ctx.config or demo_config(ctx.quick)
    images = sample_images(cfg.data, FIGURE_IMAGES, resolve_config(cfg.model).img_size)
    for path in demo_figures(ctx.pretrain_dir, ctx.out, images=images, ratio=cfg.mask_ratio,
                             device=ctx.device or "cpu", seed=cfg.seed):
        ctx.artifacts.append((path.stem, Path(path)))


def _dense_step(ctx: DemoContext, task: str, what: str, files: str) -> None:
    """One dense comparison (:func:`~colormae.transfer.demo.demo_dense` of ``task``): the demo encoder
    against a random-init one, both numbers into the summary under ``task``."""
    from colormae.transfer.demo import demo_dense

    res = demo_dense(task, ctx.pretrain_dir, ctx.out, device=ctx.device, quick=ctx.quick, progress=False)
    ctx.summary[task] = {k: round(res[k], 2) for k in ("pretrained", "random_init")}
    print(f"{what} {res['metric']}: pretrained {res['pretrained']:.2f}, random init {res['random_init']:.2f}")
    ctx.artifacts.append((f"{what} runs ({files})", ctx.out / task))


def step_segment(ctx: DemoContext) -> None:
    """Segmentation on the built-in digit scenes: the demo encoder against a random-init one (mIoU)."""
    _dense_step(ctx, "segment", "segmentation", "segment.json, segment.png")


def step_detect(ctx: DemoContext) -> None:
    """Detection on the built-in digit scenes: the demo encoder against a random-init one (box AP)."""
    _dense_step(ctx, "detect", "detection", "detect.json, detections_val.json, detect.png")


DemoStep = tuple[str, Callable[[DemoContext], None]]
#: The dense-transfer steps (``--no-dense`` leaves them out).
DENSE_STEPS: list[DemoStep] = [("segment", step_segment), ("detect", step_detect)]
#: The demo, in order. Append ``(name, function)`` to add a step.
STEPS: list[DemoStep] = [
    ("pretrain", step_pretrain),
    ("probes", step_probes),
    ("figures", step_figures),
    *DENSE_STEPS,
]


def write_summary(ctx: DemoContext) -> Path:
    """``OUT/summary.json``: every number the demo measured (see :attr:`DemoContext.summary`)."""
    import json

    path = ctx.out / SUMMARY
    atomic_write_text(path, json.dumps(ctx.summary, indent=2) + "\n")
    if ("summary.json", path) not in ctx.artifacts:
        ctx.artifacts.append(("summary.json", path))
    return path


def run_demo(out: str | Path, *, quick: bool = False, device: str | None = None,
             steps: list[DemoStep] | None = None, echo: Callable[[str], None] = print) -> DemoContext:
    """Run every demo step into ``out`` and print where the results are."""
    ctx = DemoContext(out=Path(out), quick=quick, device=device)
    ctx.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i, (name, fn) in enumerate(steps if steps is not None else STEPS, 1):
        echo(f"[demo {i}/{len(steps if steps is not None else STEPS)}] {name}")
        fn(ctx)
        if ctx.summary:  # after every step, so an interrupted demo keeps what it measured
            write_summary(ctx)
    echo(f"demo finished in {time.perf_counter() - start:.0f} s; results:")
    for label, path in ctx.artifacts:
        echo(f"  {label}: {path}")
    return ctx



def demo(cfg: DemoConfig) -> int:
    """``colormae demo``: every step (without the dense ones for ``--no-dense``) into ``cfg.out``."""
    steps = STEPS if cfg.dense else [step for step in STEPS if step not in DENSE_STEPS]
    run_demo(cfg.out, quick=cfg.quick, device=cfg.device, steps=steps)
    return 0
