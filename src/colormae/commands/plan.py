"""``colormae plan``: time a pretraining config on this machine before it runs (``colormae.pretrain.plan``).

It takes exactly the command line of ``colormae pretrain`` (``--config FILE``, the flags, ``key=value``
overrides; ``--out`` is optional and never written to) plus its own ``--json``, ``--steps``, ``--warmup``,
``--max-batch`` and ``--no-search``.
"""

from __future__ import annotations

import argparse

from colormae.config import add_config_arguments, config_from_args
from colormae.jobs.plan import CPU_RULE, PlanOptions
from colormae.jobs.pretrain import PretrainConfig

DESCRIPTION = """\
Build the model and data path a pretraining config would use, train it for a few steps on this machine in
a temporary folder (deleted afterwards: nothing is written to --out), and print the per-step time (data
loading and compute apart), images/s, peak memory (CUDA: max allocated; CPU: peak RSS), steps per epoch,
the estimated wall time of the whole run (start-up + steps x step time + checkpoint writes), and the
largest batch per device that fits with the accum_steps that keeps the config's effective batch.

Largest batch: on CUDA, real training steps on random images, doubling from batch_size until one runs out
of memory (at most --max-batch), then bisection. {cpu_rule}.
Plans one process (one device); for torchrun divide steps per epoch by the number of processes.
"""

EXAMPLES = """\
examples:
  colormae plan --config configs/cpu_demo.yaml
  colormae plan --config configs/colormae_vit_base_300e.yaml data=/data/imagenet/train --json
  colormae plan --config configs/cpu_demo.yaml batch_size=256 --steps 40 --no-search
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae plan``: every pretraining setting, then the plan's own options."""
    defaults = PlanOptions()
    parser = sub.add_parser("plan", help="time a pretraining config on this machine: step time, memory, "
                                         "wall time, largest batch", description=DESCRIPTION.format(
                                             cpu_rule=CPU_RULE),
                            epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, PretrainConfig)
    group = parser.add_argument_group("plan")
    group.add_argument("--json", action="store_true", dest="plan_json",
                       help="print the plan as one JSON object")
    group.add_argument("--steps", type=int, default=defaults.steps, dest="plan_steps", metavar="N",
                       help=f"timed steps (default {defaults.steps})")
    group.add_argument("--warmup", type=int, default=defaults.warmup, dest="plan_warmup", metavar="N",
                       help=f"untimed steps before them (default {defaults.warmup})")
    group.add_argument("--max-batch", type=int, default=defaults.max_batch, dest="plan_max_batch",
                       metavar="N", help=f"the largest batch searched (default {defaults.max_batch})")
    group.add_argument("--no-search", action="store_false", dest="plan_search",
                       help="do not search the largest batch that fits")
    parser.set_defaults(func=run_plan, takes_overrides=True)


def run_plan(args: argparse.Namespace) -> int:
    """Build the config, plan it, print the plan (text or JSON) on stdout; the trial's own output goes to
    stderr."""
    import contextlib
    import json
    import sys

    from colormae.pretrain.plan import as_json, plan_lines, plan_pretraining
    from colormae.train.threads import configure_threads

    cfg = config_from_args(PretrainConfig, args, getattr(args, "overrides", []))
    configure_threads(cfg.threads, 1)
    options = PlanOptions(steps=args.plan_steps, warmup=args.plan_warmup, max_batch=args.plan_max_batch,
                          search=args.plan_search)
    with contextlib.redirect_stdout(sys.stderr):
        plan = plan_pretraining(cfg, options)
    if args.plan_json:
        print(json.dumps(as_json(plan), indent=2))
    else:
        print("\n".join(plan_lines(plan)))
    return 0
