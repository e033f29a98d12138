"""``colormae sweep``: the supplement's ablations (Table 1, Fig. 1) as one resumable command."""

from __future__ import annotations

import argparse

from colormae.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae sweep``."""
    from colormae.experiments.sweep import GROUPS

    parser = sub.add_parser(
        "sweep", help="run the paper's ablations (ratio, patterns, noise, colour) and tabulate them",
        description="Pretrain one small MAE per ablation arm for --budget steps, linear-probe it (and "
                    "fine-tune it with --finetune), and write OUT/results.csv, OUT/table.md (laid out as "
                    "the supplement's Table 1) and OUT/fig1.png (Top-1 vs masking ratio and vs number of "
                    "patterns, marker area = peak memory). Arms: ratio = ColorMAE-G at 20/50/75/85/90 %; "
                    "patterns = 64/512/3072/4096 green patterns; noise = random masking from uniform vs "
                    "white noise; color = random/blue/green/purple/red. Identical arms run once. Rerunning "
                    "the same command resumes: finished arms are skipped, an interrupted one continues "
                    "from its checkpoint.",
    )
    parser.add_argument("--data", default="mnist5k",
                        help="mnist5k, photos, or an ImageFolder path with train/ and val/ "
                             "(default: mnist5k)")
    parser.add_argument("--budget", type=int, required=True, help="pretraining optimizer steps per arm")
    parser.add_argument("--arms", default=",".join(GROUPS),
                        help=f"comma-separated groups of arms (default: {','.join(GROUPS)})")
    parser.add_argument("--out", required=True, help="output folder (reuse it to resume)")
    parser.add_argument("--model", default="mae_vit_tiny_32px", help="MAE preset (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64, help="pretraining batch (default: %(default)s)")
    parser.add_argument("--pattern-size", type=int, default=64,
                        help="side of the generated pattern banks; the paper's are 256, but a 32 px model's "
                             "8x8 window needs far less (default: %(default)s)")
    parser.add_argument("--probe-epochs", type=int, default=20,
                        help="linear-probe epochs (default: %(default)s)")
    parser.add_argument("--probe-samples", type=int, help="cap on linear-probe train / val images")
    parser.add_argument("--finetune", action="store_true", help="also fine-tune every arm end to end")
    parser.add_argument("--finetune-epochs", type=int, default=5,
                        help="fine-tune epochs (default: %(default)s)")
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every arm (default: 0)")
    parser.add_argument("--no-isolate", action="store_true",
                        help="pretrain CPU arms in this process (faster start; the memory figures "
                             "then only grow)")
    parser.add_argument("--verbose", action="store_true",
                        help="show each arm's pretraining and probing progress bars too")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run or resume the sweep."""
    from colormae.experiments.sweep import run_sweep

    groups = [g.strip() for g in args.arms.split(",") if g.strip()]
    if not groups:
        raise UserError("--arms is empty")
    rows = run_sweep(args.out, data=args.data, budget=args.budget, groups=groups, model=args.model,
                     batch_size=args.batch_size, pattern_size=args.pattern_size,
                     probe_epochs=args.probe_epochs,
                     probe_samples=args.probe_samples, finetune=args.finetune,
                     finetune_epochs=args.finetune_epochs, device=args.device, seed=args.seed,
                     isolate=False if args.no_isolate else None, verbose=args.verbose)
    from pathlib import Path

    written = [n for n in ("results.csv", "table.md", "fig1.png") if (Path(args.out) / n).exists()]
    print(f"{len(rows)} rows -> {args.out}: {', '.join(written)}")
    return 0
