"""The ``linprobe`` and ``knn`` jobs: checkpoint + data in, Top-1 / Top-5 (and a JSON file) out.

Each takes its config (:mod:`colormae.jobs.probes`) and loads the model with :func:`colormae.load`.

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
from colormae.eval.features import (
    cached_features,
    extract_features,
    feature_cache_key,
    layer_key,
    weights_fingerprint,
)
from colormae.eval.knn import knn_classify
from colormae.eval.linprobe import head_outputs, train_linear_probe
from colormae.eval.results import write_results
from colormae.eval.targets import TargetTask, label_table, scores_file
from colormae.jobs.probes import EvalConfig, KnnConfig, LinprobeConfig
from colormae.loading import Loaded, load_for_data
from colormae.ranks import rank_world
from colormae.train.knn import encoder_layer, knn_votes


@dataclass
class FeatureSet:
    """Frozen features of both splits: ``train_x (N, D)``, ``train_y (N,)``, ``val_x (M, D)``,
    ``val_y (M,)`` (with a label file: ``train_y (N, C)``, ``val_y (M, C)`` targets)."""

    train_x: Tensor
    train_y: Tensor
    val_x: Tensor
    val_y: Tensor
    num_classes: int
    class_names: list[str] | None = None  #: names of the class indices, when the data set has them
    #: with a label file: ``"multilabel"`` / ``"regression"``; the ``*_y`` are then ``(N, C)`` targets
    task: str | None = None
    val_paths: list[str] | None = None    #: the val images' paths (label files)
    layer: int | None = None  #: the 0-based encoder block the features come from (None: unknown)


def check_splits(data: str) -> None:
    """An ImageFolder used for evaluation must have ``train/`` and ``val/`` subfolders."""
    from colormae.data.build import BUILTIN, data_splits

    splits = data_splits(data)
    if splits is not None and not {"train", "val"} <= set(splits):
        raise UserError(f"{data}: evaluation needs a train and a val split (it has {', '.join(splits)})")
    root = Path(data).expanduser()
    folder = splits is None and data not in BUILTIN and root.is_dir()
    if folder and not ((root / "train").is_dir() and (root / "val").is_dir()):
        raise UserError(f"{data}: evaluation needs train/ and val/ subfolders (one folder per class in each)")


def at_image_size(loaded: Loaded, img_size: int | tuple[int, int] | list[int] | None) -> Loaded:
    """``loaded`` for images of ``img_size`` ``(H, W)``: the model rebuilt at that size with its position
    tables resampled (:func:`colormae.models.pos_embed.resample_pos_embed`: the fixed sin-cos table is
    regenerated for the new grid, other tables resampled bicubically); unchanged when ``None`` or equal."""
    import dataclasses

    from colormae.models.mae import MaskedAutoencoder
    from colormae.models.resize import resize_mae, resize_vit

    if img_size is None:
        return loaded
    hw = (img_size, img_size) if isinstance(img_size, int) else (int(img_size[0]), int(img_size[1]))
    if hw == tuple(loaded.img_size):
        return loaded
    if isinstance(loaded.model, MaskedAutoencoder):
        loaded.model = resize_mae(loaded.model, hw).eval()
    else:
        loaded.model = resize_vit(loaded.model, hw).eval()
    loaded.config = dataclasses.replace(loaded.config, img_size=hw)
    return loaded


def eval_normalization(loaded: Loaded, data: str, normalize: str = "auto", *,
                       progress: bool = True, stats_file: str | Path | None = None) -> Normalization:
    """The normalisation evaluation uses: with ``normalize="auto"`` the one the model was trained with
    (stored in its checkpoint; ImageNet for checkpoints without it and for foreign ones), else
    ``normalize`` resolved for ``data``. ``random:<preset>`` has no training statistics: ``auto`` is
    ImageNet for 3 channels, the data set's statistics otherwise (from ``stats_file`` when given)."""
    from colormae.data import is_builtin, normalization_from_checkpoint, resolve_normalization

    if normalize == "auto" and loaded.kind != "random":
        return normalization_from_checkpoint(loaded.checkpoint, loaded.in_chans)
    return resolve_normalization(normalize, loaded.in_chans, data, builtin=is_builtin(data),
                                 progress=progress, stats_file=stats_file)


def _datasets(data: str, img_size: tuple[int, int], norm: Normalization | None = None,
              train_transform: Any = None, limit: int | None = None, table: Any = None):
    """``(train, val, number of classes)``: the splits of ``data``, or of a label ``table``'s images
    (:class:`~colormae.data.labelled.LabelledImages`)."""
    from colormae.data import build_dataset, eval_transform, num_classes
    from colormae.data.labelled import LabelledImages
    from colormae.data.subset import subset

    tf = eval_transform(img_size, norm)
    channels = norm.channels if norm is not None else None
    if table is not None:
        train: Any = LabelledImages(table, "train", train_transform or tf, channels=channels)
        val: Any = LabelledImages(table, "val", tf, channels=channels)
    else:
        check_splits(data)
        train = build_dataset(data, split="train", transform=train_transform or tf, channels=channels)
        val = build_dataset(data, split="val", transform=tf, channels=channels)
    if len(train) == 0 or len(val) == 0:
        raise UserError(f"{data}: the train and val splits must both hold images")
    n_cls = num_classes(train)
    return subset(train, limit), subset(val, limit), n_cls


def encode_splits(loaded: Loaded, data: str, *, feature: str = "cls", batch_size: int = 256,
                  device: str | torch.device = "cpu", num_workers: int | None = 0, limit: int | None = None,
                  cache_dir: str | Path | None = None, progress: bool = True, normalize: str = "auto",
                  seed: int = 0, table: Any = None, stats_file: str | Path | None = None,
                  layer: int | None = None) -> FeatureSet:
    """Encode the train and val splits of ``data`` once (optionally cached on disk under ``cache_dir``),
    after encoder block ``layer`` (:func:`colormae.train.knn.block_tokens`; ``None``: the last).

    ``table``: a :class:`~colormae.data.labels.LabelTable` whose images and ``(N, C)`` targets are used
    instead of the class folders (the cache key then covers its image paths).

    ``limit``: at most that many evenly spaced images of each split. The cache key covers the weights
    (:func:`~colormae.eval.features.weights_fingerprint`: file path, size and modification time, or
    ``random:<preset>`` and its seed), the data, the split, the transform (image size, normalisation),
    the feature kind, the block (when not the last), the seed and the row count;
    :func:`~colormae.eval.features.cached_features` also checks a cached file's stored key, dtype and
    labels before reusing it.
    """
    from colormae.data.build import data_key

    norm = eval_normalization(loaded, data, normalize, progress=progress, stats_file=stats_file)
    train, val, n_cls = _datasets(data, loaded.img_size, norm, limit=limit, table=table)
    model = loaded.model.to(device)
    block = encoder_layer(model, layer)
    data_id = data_key(data)
    if table is not None:  # the images the label file lists
        data_id += f"|labels:{feature_cache_key(train=table.train.paths, val=table.val.paths)}"
    weights = weights_fingerprint(loaded.name, seed)
    out = []
    for split, ds in (("train", train), ("val", val)):
        transform = getattr(getattr(ds, "dataset", ds), "transform", None)
        model_id = loaded.name if loaded.channel_map is None else f"{loaded.name} [{loaded.channel_map}]"
        key = feature_cache_key(model=model_id, weights=weights, data=data_id, split=split,
                                feature=feature, transform=repr(transform), seed=seed, n=len(ds),
                                **layer_key(model, block))
        out += cached_features(model, ds, cache_dir=cache_dir, key=key, feature=feature, layer=block,
                               batch_size=batch_size, device=device, num_workers=num_workers,
                               desc=f"{split} features", progress=progress)
    names = getattr(getattr(train, "dataset", train), "classes", None)
    _report_skipped(data, (("train", train), ("val", val)), progress)
    if table is None:
        return FeatureSet(*out, num_classes=n_cls, class_names=list(names) if names else None, layer=block)
    from colormae.data.labelled import paths_of, targets_of

    return FeatureSet(out[0], targets_of(train, out[1]), out[2], targets_of(val, out[3]), num_classes=n_cls,
                      class_names=list(table.names), task=table.task, val_paths=paths_of(val, out[3]),
                      layer=block)


def _report_skipped(data: str, splits: Any, enabled: bool) -> None:
    """The total of unreadable images each split skipped, as one warning line (none when there were none)."""
    from colormae.data.folder import skipped_total
    from colormae.progress import plural, warn
    from colormae.ranks import rank

    counts = [(split, skipped_total(ds), len(ds)) for split, ds in splits]
    if rank() == 0 and any(bad for _, bad, _ in counts):
        warn(f"{data}: " + "; ".join(f"{split}: {plural(bad, 'unreadable image')} skipped ({n} used)"
                                     for split, bad, n in counts if bad))


def _load(cfg: EvalConfig) -> Loaded:
    main = rank_world()[0] == 0
    loaded = load_for_data(cfg.ckpt, cfg.data, init_channels=cfg.init_channels, seed=cfg.seed,
                           progress=cfg.progress and main, say=main, stats_file=cfg.stats_file)
    return at_image_size(loaded, cfg.img_size)


def _features(cfg: EvalConfig, loaded: Loaded, device: str | torch.device, table: Any) -> FeatureSet:
    return encode_splits(loaded, cfg.data, feature=cfg.feature, batch_size=cfg.batch_size, device=device,
                         num_workers=cfg.num_workers, limit=cfg.limit, cache_dir=cfg.cache_dir,
                         progress=cfg.progress, normalize=cfg.normalize, seed=cfg.seed, table=table,
                         stats_file=cfg.stats_file, layer=cfg.layer)


def _header(cfg: EvalConfig, loaded: Loaded, fs: FeatureSet) -> dict[str, Any]:
    labelled = {"task": fs.task, "labels": cfg.labels, "labels_val": cfg.labels_val,
                "classes": fs.class_names} if fs.task else {}
    return {"checkpoint": loaded.name, "source": loaded.kind if loaded.source_format == "colormae"
            else f"{loaded.kind}:{loaded.source_format}", "data": cfg.data, "feature": cfg.feature,
            "layer": fs.layer if fs.layer is not None else encoder_layer(loaded.model, cfg.layer),
            "train_size": len(fs.train_y), "val_size": len(fs.val_y), **labelled}


def _task(fs: FeatureSet) -> TargetTask | None:
    """The target task of a label file's features (``None`` for class folders)."""
    return TargetTask.fit(fs.task, fs.class_names or [], fs.train_y) if fs.task else None


def knn(cfg: KnnConfig, *, device: str | torch.device = "cpu", features: FeatureSet | None = None
        ) -> dict[str, Any]:
    """Weighted k-NN of ``cfg.ckpt``'s features on ``cfg.data``; results (also ``out/knn.json``, rank 0)."""
    loaded = _load(cfg)
    fs = features or _features(cfg, loaded, device, label_table(cfg))
    task = _task(fs)
    if task is None:
        acc = knn_classify(fs.train_x.to(device), fs.train_y, fs.val_x.to(device), fs.val_y,
                           num_classes=fs.num_classes, k=cfg.k, temperature=cfg.temperature,
                           class_names=fs.class_names)
    else:  # the weighted mean of the neighbours' target rows (train/knn.py)
        scores = knn_votes(fs.train_x.to(device), fs.train_y, fs.val_x.to(device), num_classes=fs.num_classes,
                           k=cfg.k, temperature=cfg.temperature).cpu()
        acc = {**task.metrics(scores, fs.val_y),
               **scores_file(cfg.out, "knn", scores, fs.val_y, task.names, fs.val_paths)}
    results = {"eval": "knn", **_header(cfg, loaded, fs), "k": cfg.k, "temperature": cfg.temperature, **acc}
    _write(cfg.out, "knn.json", results)
    return results


def linprobe(cfg: LinprobeConfig, *, device: str | torch.device = "cpu", features: FeatureSet | None = None
             ) -> dict[str, Any]:
    """Linear probe of ``cfg.ckpt`` on ``cfg.data``; results (also ``out/linprobe.json`` on rank 0).

    Without ``cfg.augment`` the features are computed once and reused every epoch; with it the training
    split is re-encoded every epoch through MAE's random-resized-crop + flip.
    """
    loaded = _load(cfg)
    table = label_table(cfg)
    fs = features or _features(cfg, loaded, device, table)
    task = _task(fs)
    train: Any = (fs.train_x, fs.train_y)
    if cfg.augment:
        from colormae.data import mae_transform

        norm = eval_normalization(loaded, cfg.data, cfg.normalize, progress=False, stats_file=cfg.stats_file)
        aug_train = _datasets(cfg.data, loaded.img_size, norm, limit=cfg.limit, table=table,
                              train_transform=mae_transform(loaded.img_size, norm))[0]
        model = loaded.model.to(device)
        train = partial(_epoch_features, model, aug_train, feature=cfg.feature, batch_size=cfg.batch_size,
                        device=device, num_workers=cfg.num_workers, progress=cfg.progress, layer=cfg.layer)
    result = train_linear_probe(train, (fs.val_x, fs.val_y), num_classes=fs.num_classes, epochs=cfg.epochs,
                                batch_size=cfg.batch_size, lr=cfg.lr, base_lr=cfg.base_lr,
                                optimizer=cfg.optimizer, weight_decay=cfg.weight_decay,
                                warmup_epochs=cfg.warmup_epochs, device=device, seed=cfg.seed,
                                class_names=fs.class_names, progress=cfg.progress and rank_world()[0] == 0,
                                task=task)
    results = {"eval": "linprobe", **_header(cfg, loaded, fs), "optimizer": cfg.optimizer,
               "epochs": cfg.epochs, "batch_size": cfg.batch_size, "augment": cfg.augment, **result.as_dict()}
    if task is not None:
        scores = task.scores(head_outputs(result.head, fs.val_x)).cpu()
        results.update(scores_file(cfg.out, "linprobe", scores, fs.val_y, task.names, fs.val_paths))
    _write(cfg.out, "linprobe.json", results)
    return results


def _epoch_features(model: torch.nn.Module, dataset: Any, epoch: int, **kwargs: Any) -> tuple[Tensor, Tensor]:
    """A fresh augmented pass over the training split (the linear probe's per-epoch feature source); a
    labelled data set's rows become its ``(N, C)`` targets."""
    from colormae.data.labelled import labelled_base, targets_of

    feats, labels = extract_features(model, dataset, desc=f"epoch {epoch} features", **kwargs)
    return feats, (targets_of(dataset, labels) if labelled_base(dataset) is not None else labels)


def _write(out: str | Path | None, name: str, results: dict[str, Any]) -> None:
    if out is not None and rank_world()[0] == 0:
        write_results(Path(out) / name, results)
