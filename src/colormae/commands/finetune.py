"""``colormae finetune``: fine-tune a pretrained encoder end to end as a ViT classifier (MAE recipe).

Runs on the same training engine as ``colormae pretrain`` (checkpoints every epoch, bit-exact
``--resume``, AMP, ``torchrun``). Layer-wise lr decay 0.65, drop path 0.1, Mixup 0.8 / CutMix 1.0,
label smoothing 0.1, RandAugment rand-m9-mstd0.5-inc1, random erasing 0.25 (timm), optional EMA.
Validation Top-1 / Top-5 after every epoch (DIR/eval.jsonl) and at the end (DIR/finetune.json).
Defaults are sized for mnist5k at 32 px on a CPU; for ImageNet use the paper's values (below).
"""

from __future__ import annotations

import argparse

from colormae.commands.linprobe import CKPT_HELP

EXAMPLES = """\
examples:
  colormae finetune runs/demo --data mnist5k --out runs/demo-ft
  colormae finetune runs/demo --data mnist5k --out runs/demo-ft --resume      # continue (bit-exact)
  torchrun --nproc_per_node=8 -m colormae finetune runs/vitb --data /data/imagenet --out runs/vitb-ft \\
      --epochs 100 --batch-size 128 --base-lr 5e-4 --warmup-epochs 5 --amp bf16 --ema 0.9999

Load the result with colormae.eval.classifier.load_classifier(DIR) (a timm VisionTransformer).
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae finetune``."""
    parser = sub.add_parser("finetune", help="fine-tune an encoder end to end (MAE recipe, timm augments)",
                            description=__doc__, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ckpt", metavar="CKPT", help=CKPT_HELP.replace("a fine-tuning checkpoint, ", ""))
    parser.add_argument("--data", default="mnist5k", help="mnist5k (default), photos, or an ImageFolder path "
                                                          "with train/ and val/")
    parser.add_argument("--out", required=True, metavar="DIR", help="run directory (created if needed)")
    parser.add_argument("--resume", nargs="?", const=True, default=None, metavar="PATH",
                        help="continue: alone, from the newest checkpoint in --out; with PATH, from it")
    parser.add_argument("--epochs", type=int, default=10, help="epochs (default 10; MAE: 100 for ViT-B)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per device and step (default 64)")
    parser.add_argument("--accum-steps", type=int, default=1, help="gradient accumulation steps (default 1)")
    parser.add_argument("--base-lr", type=float, default=1e-3,
                        help="base lr; peak lr = base-lr x effective batch / 256 (default 1e-3; MAE: 5e-4)")
    parser.add_argument("--lr", type=float, default=None, help="peak lr (overrides --base-lr)")
    parser.add_argument("--min-lr", type=float, default=1e-6, help="final lr of the cosine (default 1e-6)")
    parser.add_argument("--warmup-epochs", type=int, default=1, help="warm-up epochs (default 1; MAE: 5)")
    parser.add_argument("--layer-decay", type=float, default=0.65, help="layer-wise lr decay (default 0.65)")
    parser.add_argument("--weight-decay", type=float, default=0.05, help="AdamW weight decay (default 0.05)")
    parser.add_argument("--drop-path", type=float, default=0.1, help="stochastic depth rate (default 0.1)")
    parser.add_argument("--mixup", type=float, default=0.8, help="mixup alpha, 0 = off (default 0.8)")
    parser.add_argument("--cutmix", type=float, default=1.0, help="cutmix alpha, 0 = off (default 1.0)")
    parser.add_argument("--smoothing", type=float, default=0.1, help="label smoothing (default 0.1)")
    parser.add_argument("--aa", default="rand-m9-mstd0.5-inc1",
                        help="timm auto-augment policy, 'none' = off (default rand-m9-mstd0.5-inc1)")
    parser.add_argument("--reprob", type=float, default=0.25,
                        help="random erasing probability (default 0.25)")
    parser.add_argument("--crop-min", type=float, default=0.08,
                        help="smallest RandomResizedCrop area fraction (default 0.08)")
    parser.add_argument("--ema", type=float, default=None, metavar="DECAY",
                        help="keep an EMA of the weights with this decay (e.g. 0.9999) and report it too")
    parser.add_argument("--pool", choices=("avg", "token"), default="avg",
                        help="avg: mean of patch tokens + fc_norm (MAE default); token: [CLS]")
    parser.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none", help="mixed precision")
    parser.add_argument("--grad-clip", type=float, default=None, help="clip the gradient norm to this value")
    parser.add_argument("--max-steps", type=int, default=None, help="stop the schedule after this many steps")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto (default)")
    parser.add_argument("--workers", type=int, default=2, help="data-loading workers (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fine-tune and print the final validation accuracy."""
    from colormae.eval.finetune import finetune
    from colormae.train.distributed import cleanup_distributed, env_dist_info

    try:
        res = finetune(args.out, args.ckpt, data=args.data, epochs=args.epochs, batch_size=args.batch_size,
                       base_lr=args.base_lr, lr=args.lr, layer_decay=args.layer_decay,
                       weight_decay=args.weight_decay, drop_path=args.drop_path, mixup=args.mixup,
                       cutmix=args.cutmix, smoothing=args.smoothing,
                       auto_augment=None if args.aa.lower() == "none" else args.aa, reprob=args.reprob,
                       crop_min=args.crop_min, warmup_epochs=args.warmup_epochs, min_lr=args.min_lr,
                       ema_decay=args.ema, global_pool=args.pool, accum_steps=args.accum_steps, amp=args.amp,
                       grad_clip=args.grad_clip, device=args.device, resume=args.resume, seed=args.seed,
                       num_workers=args.workers, max_steps=args.max_steps, progress=not args.no_progress)
    finally:
        cleanup_distributed()
    if env_dist_info().is_main:
        ema = f"  (EMA top1 {res['ema_top1']:.2f})" if "ema_top1" in res else ""
        print(f"fine-tuned {res['steps']} steps: val top1 {res['top1']:.2f}  top5 {res['top5']:.2f}{ema}; "
              f"wrote {args.out}/finetune.json, checkpoint {res['checkpoint']}")
    return 0
