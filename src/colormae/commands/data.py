"""``colormae data``: look at a data set before training on it (``data stats``: normalisation statistics)
and write it as tar shards (``data shard``)."""

from __future__ import annotations

import argparse

STATS_DESCRIPTION = """\
Compute the per-channel mean and std of a data set in one pass (every pixel of every image at its stored
size, scaled to [0, 1] by its bit depth; an evenly spaced sample of --max-images images on large folders)
and write them to DIR/colormae_stats.json, where `pretrain normalize=dataset` (and normalize=auto for data
that is not 3-channel) reads them. A folder with train/ and val/ is measured on train/. A read-only DIR (a
shared data set) gets a per-user file in ~/.cache/colormae/stats instead, found the same way; -o FILE
writes anywhere, and stats_file=FILE (pretrain, finetune, linprobe, knn) reads it.
"""

EXAMPLES = """\
examples:
  colormae data stats /data/sentinel2                 # -> /data/sentinel2/colormae_stats.json
  colormae data stats /data/xray --max-images 2000
  colormae data stats /data/s2 --names B4,B3,B2,B8    # band names, kept for figures
  colormae data stats /shared/xray -o runs/xray.json  # read-only: then pretrain stats_file=runs/xray.json
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae data`` and ``colormae data stats``."""
    parser = sub.add_parser("data", help="data set tools: per-channel statistics for normalize=dataset",
                            description=__doc__)
    data_sub = parser.add_subparsers(dest="data_command", metavar="WHAT")
    stats = data_sub.add_parser("stats", help="per-channel mean and std -> DIR/colormae_stats.json",
                                description=STATS_DESCRIPTION, epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    stats.add_argument("data", metavar="DIR", help="an image folder (or a built-in data set: printed only)")
    stats.add_argument("--in-chans", type=int, default=None, metavar="C",
                       help="channels the model will see (default: what the folder's images have)")
    stats.add_argument("--max-images", type=int, default=None, metavar="N",
                       help="read at most N images, evenly spaced (default 10000; 0: all)")
    stats.add_argument("--names", default=None, metavar="A,B,...",
                       help="channel names, stored with the stats")
    stats.add_argument("-o", "--output", default=None, metavar="FILE",
                       help="write the stats here (default: DIR/colormae_stats.json, or the per-user cache "
                            "when DIR is read-only)")
    stats.add_argument("--workers", type=int, default=0, help="data-loading worker processes (default 0)")
    stats.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    stats.set_defaults(func=run_stats)
    register_shard(data_sub)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def run_stats(args: argparse.Namespace) -> int:
    """Compute, write and print the statistics."""
    from colormae.data.build import is_builtin
    from colormae.data.resolve import compute_stats
    from colormae.data.stats import MAX_IMAGES, stats_path, write_stats
    from colormae.errors import UserError
    from colormae.progress import plural

    if args.in_chans is not None and args.in_chans < 1:
        raise UserError(f"--in-chans must be positive, got {args.in_chans}")
    if args.max_images is not None and args.max_images < 0:
        raise UserError(f"--max-images must be 0 (all) or positive, got {args.max_images}")
    limit = MAX_IMAGES if args.max_images is None else (args.max_images or None)
    stats = compute_stats(args.data, channels=args.in_chans, max_images=limit, num_workers=args.workers,
                          progress=not args.no_progress)
    names = [n.strip() for n in args.names.split(",")] if args.names else None
    if names is not None and len(names) != stats.channels:
        raise UserError(f"--names gives {len(names)} names for {stats.channels} channels")
    fmt = ", ".join
    bad = stats.unreadable
    skipped = f", {plural(bad, 'unreadable image')} skipped" if bad else ""
    line = (f"{stats.channels} channel(s), {stats.images} of {stats.total} images{skipped}, {stats.pixels} "
            f"pixels: mean {fmt(f'{v:.6g}' for v in stats.mean)}  std {fmt(f'{v:.6g}' for v in stats.std)}")
    if is_builtin(args.data) and args.output is None:
        print(f"{args.data}: {line} (built-in data set: normalize=dataset computes these itself)")
        return 0
    path = write_stats(stats, args.data, out=args.output, channel_names=names)
    where = ""
    if args.output is None and path != stats_path(args.data):
        where = f" ({args.data} is read-only: a per-user file, which normalize=dataset finds too)"
    print(f"{line}; wrote {path}{where}")
    return 0


SHARD_DESCRIPTION = """\
Write an image folder (train/ and val/ when it has them) or a built-in data set as WebDataset tar shards
in DIR: each split shuffled once with --seed, files kept as they are (.jpg, .png, .tif, .npy), class index
(.cls) and relative path (.json) per sample, plus DIR/colormae_shards.json (shard names, sample counts,
classes, channels, the folder's statistics). Every job then reads data=DIR (or a brace pattern such as
data=DIR/train-{000000..000009}.tar). Each shard is written atomically; rerunning the same command
skips finished shards.
"""

SHARD_EXAMPLES = """\
examples:
  colormae data shard /data/imagenet -o /data/imagenet-shards            # ~1 GB shards
  colormae data shard mnist5k -o shards/mnist5k --per-shard 500 --seed 1
  colormae pretrain data=/data/imagenet-shards ...
"""


def register_shard(data_sub: argparse._SubParsersAction) -> None:
    """Add ``colormae data shard``."""
    shard = data_sub.add_parser("shard", help="write a folder or built-in set as WebDataset tar shards",
                                description=SHARD_DESCRIPTION, epilog=SHARD_EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    shard.add_argument("data", metavar="SRC", help="an image folder or a built-in data set")
    shard.add_argument("-o", "--out", required=True, metavar="DIR", help="folder to write the shards to")
    size = shard.add_mutually_exclusive_group()
    size.add_argument("--shard-size", default=None, metavar="SIZE",
                      help="bytes per shard, e.g. 1GB (default), 500MB, 256MiB")
    size.add_argument("--per-shard", type=int, default=None, metavar="N", help="samples per shard instead")
    shard.add_argument("--seed", type=int, default=0, help="seed of the one-time shuffle (default 0)")
    shard.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    shard.set_defaults(func=run_shard)


def run_shard(args: argparse.Namespace) -> int:
    """Write the shards and print where they went."""
    from colormae.data.shard_writer import parse_size, write_shards
    from colormae.data.shards import INDEX_FILE

    size = parse_size(args.shard_size) if args.shard_size else None
    index = write_shards(args.data, args.out, shard_size=size, per_shard=args.per_shard, seed=args.seed,
                         show_progress=not args.no_progress)
    parts = [f"{name}: {e['samples']} images in {len(e['shards'])} shard(s)"
             for name, e in index["splits"].items()]
    print(f"{'; '.join(parts)}; wrote {args.out}/{INDEX_FILE}")
    return 0
