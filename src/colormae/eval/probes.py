"""The ``linprobe`` and ``knn`` jobs: checkpoint + data in, Top-1 / Top-5 (and a JSON file) out.

Both encode the train and val splits of the data once with the frozen encoder (eval mode, no grad;
see :mod:`colormae.eval.features`), split over ranks under ``torchrun`` and gathered, then fit the
probe on every rank identically; only rank 0 prints and writes. Data: ``mnist5k`` (the fixed 4,000 /
1,000 split), ``photos`` or an ImageFolder with ``train/`` and ``val/`` subfolders.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from colormae.data.normalization import Normalization
from colormae.errors import UserError
from colormae.eval.features import cached_features, extract_features, feature_cache_key
from colormae.eval.knn import knn_classify
from colormae.eval.linprobe import train_linear_probe
from colormae.eval.results import write_results
from colormae.eval.source import Encoder, load_encoder


@dataclass
class FeatureSet:
    """Frozen features of both splits: ``train_x (N, D)``, ``train_y (N,)``, ``val_x (M, D)``,
    ``val_y (M,)``."""

    train_x: Tensor
    train_y: Tensor
    val_x: Tensor
    val_y: Tensor
    num_classes: int


def check_splits(data: str) -> None:
    """An ImageFolder used for evaluation must have ``train/`` and ``val/`` subfolders."""
    from colormae.data.build import BUILTIN

    root = Path(data).expanduser()
    if data not in BUILTIN and root.is_dir() and not ((root / "train").is_dir() and (root / "val").is_dir()):
        raise UserError(f"{data}: evaluation needs train/ and val/ subfolders (one folder per class in each)")


def eval_normalization(encoder: Encoder, data: str, normalize: str = "auto", *,
                       progress: bool = True) -> Normalization:
    """The normalisation evaluation uses: with ``normalize="auto"`` the one the encoder was trained with
    (stored in its checkpoint), else ``normalize`` resolved for ``data`` (``random:<preset>`` and
    ``auto``: ImageNet for 3 channels, the data set's statistics otherwise)."""
    from colormae.data import is_builtin, resolve_normalization

    if normalize == "auto" and encoder.normalization is not None:
        norm = encoder.normalization
        if norm.channels != encoder.in_chans:
            raise UserError(f"{encoder.name}: stored normalisation has {norm.channels} channels, the model "
                            f"{encoder.in_chans}")
        return norm
    return resolve_normalization(normalize, encoder.in_chans, data, builtin=is_builtin(data),
                                 progress=progress)


def _datasets(data: str, img_size: tuple[int, int], norm: Normalization | None = None,
              train_transform: Any = None):
    from colormae.data import build_dataset, eval_transform, num_classes

    check_splits(data)
    tf = eval_transform(img_size, norm)
    channels = norm.channels if norm is not None else None
    train = build_dataset(data, split="train", transform=train_transform or tf, channels=channels)
    val = build_dataset(data, split="val", transform=tf, channels=channels)
    if len(train) == 0 or len(val) == 0:
        raise UserError(f"{data}: the train and val splits must both hold images")
    return train, val, num_classes(train)


def encode_splits(encoder: Encoder, data: str, *, feature: str = "cls", batch_size: int = 256,
                  device: str | torch.device = "cpu", num_workers: int = 0,
                  cache_dir: str | Path | None = None, progress: bool = True, normalize: str = "auto",
                  seed: int = 0) -> FeatureSet:
    """Encode the train and val splits of ``data`` once (optionally cached on disk under ``cache_dir``).

    The cache key covers the weights (:attr:`Encoder.fingerprint`), the data, the split, the transform
    (image size and normalisation), the feature kind, the seed and the row count; see
    :func:`colormae.eval.features.cached_features` for how a cached file is validated.
    """
    norm = eval_normalization(encoder, data, normalize, progress=progress)
    train, val, n_cls = _datasets(data, encoder.img_size, norm)
    model = encoder.model.to(device)
    data_id = data if data in _builtin() else str(Path(data).expanduser().resolve())
    out = []
    for split, ds in (("train", train), ("val", val)):
        key = feature_cache_key(model=encoder.name, fingerprint=encoder.fingerprint, data=data_id,
                                split=split, feature=feature, transform=repr(ds.transform), seed=seed,
                                n=len(ds))
        out += cached_features(model, ds, cache_dir=cache_dir, key=key, feature=feature,
                               batch_size=batch_size, device=device, num_workers=num_workers,
                               desc=f"{split} features", progress=progress)
    return FeatureSet(*out, num_classes=n_cls)


def _builtin() -> tuple[str, ...]:
    from colormae.data.build import BUILTIN

    return tuple(BUILTIN)


def run_knn(ckpt: str, data: str, *, k: int = 20, temperature: float = 0.07, feature: str = "cls",
            batch_size: int = 256, device: str | torch.device = "cpu", num_workers: int = 0,
            out: str | Path | None = None, features: FeatureSet | None = None, seed: int = 0,
            cache_dir: str | Path | None = None, progress: bool = True, normalize: str = "auto",
            img_size: int | tuple[int, int] | None = None) -> dict[str, Any]:
    """Weighted k-NN of ``ckpt``'s features on ``data``; results dict (also ``out/knn.json`` on rank 0).

    ``normalize``: ``auto`` (the checkpoint's), ``imagenet``, ``dataset`` or ``none``; ``img_size``:
    evaluate at this ``(H, W)`` (position embeddings resampled).
    """
    encoder = load_encoder(ckpt, seed=seed, img_size=img_size)
    fs = features or encode_splits(encoder, data, feature=feature, batch_size=batch_size, device=device,
                                   num_workers=num_workers, cache_dir=cache_dir, progress=progress,
                                   normalize=normalize, seed=seed)
    acc = knn_classify(fs.train_x.to(device), fs.train_y, fs.val_x.to(device), fs.val_y,
                       num_classes=fs.num_classes, k=k, temperature=temperature)
    results = {"eval": "knn", "checkpoint": encoder.name, "source": encoder.kind, "data": data,
               "feature": feature, "k": k, "temperature": temperature, "train_size": len(fs.train_y),
               "val_size": len(fs.val_y), **acc}
    _write(out, "knn.json", results)
    return results


def run_linprobe(ckpt: str, data: str, *, feature: str = "cls", optimizer: str = "sgd", epochs: int = 90,
                 batch_size: int = 256, lr: float | None = None, base_lr: float = 0.1,
                 weight_decay: float = 0.0, warmup_epochs: int = 10, augment: bool = False,
                 device: str | torch.device = "cpu", num_workers: int = 0, out: str | Path | None = None,
                 features: FeatureSet | None = None, seed: int = 0, cache_dir: str | Path | None = None,
                 progress: bool = True, normalize: str = "auto",
                 img_size: int | tuple[int, int] | None = None) -> dict[str, Any]:
    """Linear probe of ``ckpt`` on ``data``; results dict (also ``out/linprobe.json`` on rank 0).

    Without ``augment`` the features are computed once and reused every epoch; with it the training
    split is re-encoded every epoch through MAE's random-resized-crop + flip. ``normalize`` and
    ``img_size`` as in :func:`run_knn`.
    """
    encoder = load_encoder(ckpt, seed=seed, img_size=img_size)
    fs = features or encode_splits(encoder, data, feature=feature, batch_size=batch_size, device=device,
                                   num_workers=num_workers, cache_dir=cache_dir, progress=progress,
                                   normalize=normalize, seed=seed)
    train: Any = (fs.train_x, fs.train_y)
    if augment:
        from colormae.data import mae_transform

        norm = eval_normalization(encoder, data, normalize, progress=False)
        aug_train = _datasets(data, encoder.img_size, norm,
                              train_transform=mae_transform(encoder.img_size, norm))[0]
        model = encoder.model.to(device)
        train = partial(_epoch_features, model, aug_train, feature=feature, batch_size=batch_size,
                        device=device, num_workers=num_workers, progress=progress)
    result = train_linear_probe(train, (fs.val_x, fs.val_y), num_classes=fs.num_classes, epochs=epochs,
                                batch_size=batch_size, lr=lr, base_lr=base_lr, optimizer=optimizer,
                                weight_decay=weight_decay, warmup_epochs=warmup_epochs, device=device,
                                seed=seed, progress=progress and _rank() == 0)
    results = {"eval": "linprobe", "checkpoint": encoder.name, "source": encoder.kind, "data": data,
               "feature": feature, "optimizer": optimizer, "epochs": epochs, "batch_size": batch_size,
               "augment": augment, "train_size": len(fs.train_y), "val_size": len(fs.val_y),
               **result.as_dict()}
    _write(out, "linprobe.json", results)
    return results


def _epoch_features(model: torch.nn.Module, dataset: Any, epoch: int, **kwargs: Any) -> tuple[Tensor, Tensor]:
    """A fresh augmented pass over the training split (the linear probe's per-epoch feature source)."""
    return extract_features(model, dataset, desc=f"epoch {epoch} features", **kwargs)


def _rank() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


def _write(out: str | Path | None, name: str, results: dict[str, Any]) -> None:
    if out is not None and _rank() == 0:
        write_results(Path(out) / name, results)
