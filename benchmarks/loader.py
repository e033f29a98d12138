"""Pretraining loader throughput: our CPU path and GPU path (decoding on the CPU here) next to a plain
torchvision ``ImageFolder`` + MAE transforms ``DataLoader``, in the same process, same worker count.

It writes 256 photo-like JPEGs of about ImageNet's size (500 x 375 +- a few pixels, quality 90) into a
temporary folder, then times full passes over it (several epochs each, the loaders' start-up included,
as a run sees it) for:

- ``torchvision``: ``ImageFolder`` + RandomResizedCrop(224, scale=(0.2, 1.0), bicubic) + flip + ToTensor +
  Normalize, ``DataLoader(shuffle=True, drop_last=True)`` (its defaults: workers respawned every epoch);
- ``ours cpu``: :func:`colormae.pretrain.data.build_pretrain_data` with ``backend="cpu"`` (the same
  augmentation, seeded per sample for exact resume, persistent workers);
- ``ours gpu``: ``backend="gpu"`` on ``--device`` (default cpu): workers read bytes and draw the boxes, the
  main process decodes the batch and augments it (on a GPU, nvJPEG does the decoding).

Loaders are timed round-robin over ``--rounds`` rounds and the median is kept, so a busy machine slows
them alike. Images per second count the normalised float32 batches delivered on the device.

    python benchmarks/loader.py                   # workers: colormae's automatic count
    python benchmarks/loader.py --workers 4 --epochs 3 --device cuda

The last line reads ``loader: ours X img/s, torchvision Y img/s, ratio R`` (ours = the CPU path).

``--small N`` instead measures many small files: N small JPEGs (48 x 48 +- a few pixels) as a folder,
as WebDataset shards (``colormae data shard``, 1000 per shard) and as a Hugging Face data set
(``save_to_disk``), each read by the CPU pretraining path at 32 px with 1 and 2 workers, in one run.
Each timing includes building the data set (a folder lists and checks its files; shards read their
index) and ``--epochs`` passes. The last line reads ``loader: shards X img/s, folder Y img/s, ratio R``
(the best worker count of each).

    nice -n 10 python benchmarks/loader.py --small 20000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision import transforms as T

from colormae.data import MEAN, STD, build_dataset
from colormae.pretrain.data import build_pretrain_data
from colormae.train.loader import default_num_workers

IMAGES = 256
SIZE = 224


def write_jpegs(root: Path, count: int = IMAGES, seed: int = 0) -> None:
    """``count`` photo-like JPEGs (smooth colour fields, edges and noise), about 500 x 375, quality 90."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        h, w = 375 + int(rng.integers(-8, 9)), 500 + int(rng.integers(-8, 9))
        yy, xx = np.mgrid[0:h, 0:w] / 100.0
        phase = rng.uniform(0, 6, (3, 2))
        img = np.stack([np.sin(xx * (1 + c) + phase[c, 0]) * np.cos(yy * 1.3 + phase[c, 1])
                        for c in range(3)], -1)
        img = (img + 1) * 100 + (xx > rng.uniform(1, 4))[..., None] * 40 + rng.normal(0, 6, (h, w, 3))
        folder = root / f"class{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(folder / f"{i:04d}.jpg", quality=90)


def torchvision_loader(root: Path, batch_size: int, workers: int) -> tuple[DataLoader, Callable]:
    """The plain baseline: torchvision ImageFolder + the MAE pretraining transforms."""
    transform = T.Compose([
        T.RandomResizedCrop(SIZE, scale=(0.2, 1.0), interpolation=T.InterpolationMode.BICUBIC),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        T.Normalize(MEAN, STD),
    ])
    loader = DataLoader(datasets.ImageFolder(str(root), transform=transform), batch_size=batch_size,
                        shuffle=True, num_workers=workers, drop_last=True)
    return loader, lambda batch: batch[0]


def ours(root: Path, batch_size: int, workers: int, backend: str, device: torch.device
         ) -> tuple[Iterable, Callable]:
    source = build_pretrain_data(build_dataset(str(root), split="train"), SIZE, backend=backend,
                                 batch_size=batch_size, seed=0, num_workers=workers, device=device)
    return source.loader, source.images


def time_epochs(loader: Iterable, images: Callable, epochs: int, device: torch.device) -> float:
    """Images per second over ``epochs`` full passes (set_epoch where the sampler has it)."""
    count = 0
    start = time.perf_counter()
    for epoch in range(epochs):
        sampler = getattr(loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        for batch in loader:
            x = images(batch)
            count += x.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return count / (time.perf_counter() - start)


def write_small_jpegs(root: Path, count: int, seed: int = 0) -> None:
    """``count`` small JPEGs (about 48 x 48, quality 90) in 10 class folders."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    for i in range(count):
        h, w = 48 + int(rng.integers(-4, 5)), 48 + int(rng.integers(-4, 5))
        dy, dx = int(rng.integers(0, 12)), int(rng.integers(0, 12))
        img = np.roll(base, (i % 7, i % 5), (0, 1))[dy:dy + h, dx:dx + w]
        folder = root / f"class{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"{i:06d}.jpg", quality=90)


def hf_copy(root: Path, out: Path) -> None:
    """The folder as a Hugging Face data set on disk (image bytes, ClassLabel), in the folder's order."""
    import datasets as hf

    hf.disable_progress_bars()
    folder = build_dataset(str(root))
    rows = {"image": [{"bytes": Path(p).read_bytes(), "path": p} for p, _ in folder.samples],
            "label": [t for _, t in folder.samples]}
    features = hf.Features({"image": hf.Image(), "label": hf.ClassLabel(names=list(folder.classes))})
    hf.Dataset.from_dict(rows, features=features).save_to_disk(str(out))


def time_source(data: str, batch_size: int, workers: int, epochs: int) -> float:
    """Images per second of the CPU pretraining path on ``data``: building the data set included."""
    start = time.perf_counter()
    source = build_pretrain_data(build_dataset(data, split="train"), 32, backend="cpu",
                                 batch_size=batch_size, seed=0, num_workers=workers)
    count = 0
    for epoch in range(epochs):
        source.loader.sampler.set_epoch(epoch)
        for batch in source.loader:
            count += source.images(batch).shape[0]
    return count / (time.perf_counter() - start)


def small_files(count: int, batch_size: int, epochs: int) -> None:
    """The ``--small`` comparison (module docstring)."""
    from colormae.data.shard_writer import write_shards

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_small_jpegs(root / "folder", count)
        write_shards(str(root / "folder"), root / "shards", per_shard=1000, show_progress=False)
        hf_copy(root / "folder", root / "hf")
        sources = {"folder": str(root / "folder"), "shards": str(root / "shards"), "hf": f"hf:{root / 'hf'}"}
        print(f"{count} JPEGs of about 48x48 (q90), batch {batch_size}, {epochs} epoch(s), 32 px crops")
        best: dict[str, float] = {}
        for workers in (1, 2):
            for name, data in sources.items():
                speed = time_source(data, batch_size, workers, epochs)
                best[name] = max(best.get(name, 0.0), speed)
                print(f"{name:8s} {workers} worker(s) {speed:8.1f} img/s")
        print(f"hf / folder: {best['hf'] / best['folder']:.2f}")
        print(f"loader: shards {best['shards']:.0f} img/s, folder {best['folder']:.0f} img/s, "
              f"ratio {best['shards'] / best['folder']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: automatic)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2, help="passes per timing")
    parser.add_argument("--rounds", type=int, default=3, help="round-robin rounds (median kept)")
    parser.add_argument("--device", default="cpu", help="device of the GPU path (cuda decodes with nvJPEG)")
    parser.add_argument("--small", type=int, default=None, metavar="N",
                        help="instead: N small JPEGs as a folder, shards and a Hugging Face data set")
    args = parser.parse_args()
    if args.small:
        torch.set_num_threads(1)
        return small_files(args.small, args.batch_size, args.epochs)
    workers = default_num_workers() if args.workers is None else args.workers
    device = torch.device(args.device)
    torch.set_num_threads(1)  # the main process: like the step's, a single thread feeding the loop

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_jpegs(root)
        print(f"{IMAGES} JPEGs of about 500x375 (q90), batch {args.batch_size}, {workers} workers, "
              f"{args.epochs} epochs x {args.rounds} rounds, GPU path on {device}")
        loaders = {
            "torchvision": torchvision_loader(root, args.batch_size, workers),
            "ours cpu": ours(root, args.batch_size, workers, "cpu", torch.device("cpu")),
            "ours gpu": ours(root, args.batch_size, workers, "gpu", device),
        }
        speeds: dict[str, list[float]] = {name: [] for name in loaders}
        for _ in range(args.rounds):
            for name, (loader, images) in loaders.items():
                speeds[name].append(time_epochs(loader, images, args.epochs, device))
        median = {name: statistics.median(v) for name, v in speeds.items()}
        for name, value in median.items():
            rounds = " ".join(f"{v:.0f}" for v in speeds[name])
            print(f"{name:12s} {value:8.1f} img/s   (rounds: {rounds})")
        print(f"gpu path / torchvision: {median['ours gpu'] / median['torchvision']:.2f}")
        ratio = median["ours cpu"] / median["torchvision"]
        print(f"loader: ours {median['ours cpu']:.0f} img/s, torchvision {median['torchvision']:.0f} img/s, "
              f"ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
