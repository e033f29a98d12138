"""``colormae pretrain``: pretrain a ViT masked autoencoder with any masking strategy.

Settings come from the defaults (the paper's ViT-B/16 ColorMAE-G recipe), then ``--config FILE``
(YAML), then ``key=value`` overrides. Run several processes with
``torchrun --nproc_per_node=N -m colormae pretrain ...`` (see docs/training.md).
"""

from __future__ import annotations

import argparse

from colormae.config import PretrainConfig, config_help, config_to_dict, load_config

DESCRIPTION = """\
Pretrain a ViT masked autoencoder with random (MAE), block (BEiT) or colour-noise (ColorMAE) masks.

Settings come from the defaults (the paper's ViT-B/16 ColorMAE-G recipe), then --config FILE (YAML,
see configs/), then KEY=VALUE overrides. For several GPUs or nodes run it under torchrun:
torchrun --nproc_per_node=N -m colormae pretrain ... (see docs/training.md).
"""

EXAMPLES = """\
examples:
  colormae pretrain --config configs/cpu_demo.yaml --out runs/cpu
  colormae pretrain --out runs/red model=mae_vit_tiny_32px data=mnist5k masking=red epochs=20
  colormae pretrain --out runs/red --resume            # continue where it stopped (bit-exact)
  torchrun --nproc_per_node=8 -m colormae pretrain --config configs/colormae_vit_base_300e.yaml \\
      --out runs/vitb data=/data/imagenet

Run directory: checkpoints/step-*.pt, metrics.jsonl, tb/ (tensorboard --logdir DIR/tb), config.yaml.
Ctrl-C (or SIGTERM) saves a checkpoint before exiting; continue with --resume.

config keys (YAML or key=value):
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae pretrain``."""
    parser = sub.add_parser(
        "pretrain", help="pretrain an MAE (random, block or colour-noise masks); torchrun for many GPUs",
        description=DESCRIPTION, epilog=EXAMPLES + config_help(PretrainConfig),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", metavar="FILE", help="YAML config (see configs/); keys as listed below")
    parser.add_argument("--out", required=True, metavar="DIR", help="run directory (created if needed)")
    parser.add_argument("--resume", nargs="?", const=True, default=None, metavar="PATH",
                        help="continue a run: alone, from the newest checkpoint in --out (fresh start if "
                             "none); with PATH, from that checkpoint file or run directory")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda, cuda:N or auto (default; under torchrun: cuda:LOCAL_RANK)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override config keys")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the config, train, and say where the results are."""
    from colormae.train.distributed import env_dist_info
    from colormae.train.pretrain import pretrain

    cfg = load_config(PretrainConfig, args.config, args.overrides)
    values = config_to_dict(cfg)
    result = pretrain(args.out, **values, resume=args.resume, device=args.device, config=values,
                      progress=not args.no_progress)
    if env_dist_info().is_main:
        loss = "n/a" if result.loss is None else f"{result.loss:.4f}"
        print(f"done: {result.step} steps, loss {loss}; "
              f"checkpoint {result.checkpoint}; metrics {args.out}/metrics.jsonl")
    return 0
