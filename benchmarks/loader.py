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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: automatic)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2, help="passes per timing")
    parser.add_argument("--rounds", type=int, default=3, help="round-robin rounds (median kept)")
    parser.add_argument("--device", default="cpu", help="device of the GPU path (cuda decodes with nvJPEG)")
    args = parser.parse_args()
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
