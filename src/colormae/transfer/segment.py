"""``colormae segment``: fine-tune UperNet on a pretrained encoder with the shared engine, then evaluate.

The protocol is the official ColorMAE / MAE mmseg one (see configs/segment_upernet_vit_base_ade20k.yaml):
the model is :class:`colormae.dense.segmentor.Segmentor`, the data :mod:`colormae.dense.data` with
:class:`colormae.dense.augment.TrainTransform`, the optimizer AdamW over timm's layer-decayed groups
(:mod:`colormae.eval.layer_decay`), the schedule :class:`colormae.train.schedule.WarmupPoly`; the loop -
AMP, accumulation, DDP (with SyncBatchNorm in the heads), checkpoints, bit-exact resume, metrics.jsonl,
TensorBoard, progress - is :func:`colormae.train.engine.fit`. Checkpoints are ``kind="segment"``.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from colormae.errors import UserError
from colormae.jobs.segment import SegmentConfig
from colormae.ranks import rank_world

#: Default checkpoint interval in optimizer steps (the run's final step is always saved).
CKPT_EVERY = 1000


def _head_config(cfg: SegmentConfig, num_classes: int, classes: list[str]) -> Any:
    from colormae.dense.segmentor import HeadConfig

    return HeadConfig(num_classes=num_classes, crop=cfg.crop_size, out_indices=tuple(cfg.out_indices or ()),
                      channels=cfg.channels, aux_channels=cfg.aux_channels,
                      pool_scales=tuple(cfg.pool_scales),
                      dropout=cfg.dropout, drop_path=cfg.drop_path, layer_scale=cfg.layer_scale,
                      aux=cfg.aux_weight > 0, classes=list(classes), head=cfg.head)


def _open_sources(cfg: SegmentConfig) -> tuple[Any, Any]:
    """The train and val sources of ``cfg.data`` (same classes), checked as ``cfg.check_labels`` says."""
    from colormae.dense.data import open_source

    train_src, val_src = (open_source(cfg.data, split, ignore_index=cfg.ignore_index,
                                      reduce_zero_label=cfg.reduce_zero_label, seed=cfg.seed)
                          for split in ("train", "val"))
    if list(train_src.classes) != list(val_src.classes):
        raise UserError(f"{cfg.data}: train and val have different classes")
    for src in (train_src, val_src):
        if hasattr(src, "check"):
            src.check(labels=cfg.check_labels)
    return train_src, val_src


def _encoder(cfg: SegmentConfig, train_src: Any) -> tuple[Any, Any]:
    """The MAE of ``cfg.ckpt`` (a pretraining or random one) fitted to the data's channels
    (:func:`colormae.transfer.encoder.dense_encoder`), its patch size dividing the crop, and the
    normalisation of its images."""
    from colormae.transfer.encoder import dense_encoder

    loaded, norm = dense_encoder(cfg.ckpt, cfg.data, train_src, init_channels=cfg.init_channels,
                                 normalize=cfg.normalize, seed=cfg.seed, progress=cfg.progress,
                                 say=rank_world()[0] == 0)
    if loaded.kind not in ("pretrain", "random"):
        raise UserError(f"{cfg.ckpt}: a {loaded.kind} checkpoint; segmentation starts from a pretraining "
                        "checkpoint (or random:<preset>)")
    mae = loaded.mae()
    if cfg.crop_size % mae.config.patch_size:
        raise UserError(f"crop_size {cfg.crop_size} is not a multiple of the encoder's patch size "
                        f"{mae.config.patch_size}")
    return mae, norm


def _seg_step(cfg: SegmentConfig, device: torch.device) -> Any:
    """The engine's ``step_fn``: ``(images (B, C, H, W), labels (B, H, W))`` -> (loss, per-head losses)."""
    from colormae.dense.segmentor import seg_loss

    def step_fn(net: nn.Module, batch: Any, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        images, labels = batch
        outputs = net(images.to(device, non_blocking=True))
        return seg_loss(outputs, labels.to(device, non_blocking=True), ignore_index=cfg.ignore_index,
                        aux_weight=cfg.aux_weight)

    return step_fn


def segment(cfg: SegmentConfig, *, stop_at_step: int | None = None) -> dict[str, Any]:
    """Train and evaluate; returns (and writes to ``OUT/segment.json``) the final metrics."""
    from colormae.config import saved_config
    from colormae.data.normalization import data_payload
    from colormae.data.subset import subset
    from colormae.dense.augment import TrainTransform
    from colormae.dense.data import SegDataset
    from colormae.dense.evaluate import evaluate
    from colormae.dense.segmentor import model_config, segmentor_from_mae
    from colormae.eval.layer_decay import finetune_optimizer
    from colormae.eval.results import write_results
    from colormae.models.freeze import freeze, trainable_fraction
    from colormae.train.distributed import init_distributed, seed_everything
    from colormae.train.engine import resolve_resume
    from colormae.train.job import TrainJob
    from colormae.train.schedule import WarmupPoly
    from colormae.transfer.encoder import figure_bands

    train_src, val_src = _open_sources(cfg)
    info, dev = init_distributed(cfg.device)
    seed_everything(cfg.seed + info.rank)
    mae, norm = _encoder(cfg, train_src)
    bands = figure_bands(cfg.bands, norm.channels)
    classes = list(train_src.classes)
    head = _head_config(cfg, len(classes), classes)
    model: nn.Module = segmentor_from_mae(mae, head)
    if cfg.freeze_encoder:  # the dense probe: only the pyramid and the heads learn
        freeze(model.backbone)
    if info.distributed:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(dev)
    optimizer = finetune_optimizer(model, cfg.lr, weight_decay=cfg.weight_decay, layer_decay=cfg.layer_decay)

    scale = tuple(cfg.scale) if cfg.scale else (4 * cfg.crop_size, cfg.crop_size)
    stride = cfg.stride or max(1, cfg.crop_size * 2 // 3)
    transform = TrainTransform(cfg.crop_size, scale=scale, ratio_range=tuple(cfg.ratio_range),
                               cat_max_ratio=cfg.cat_max_ratio, flip=cfg.flip, photometric=cfg.photometric,
                               ignore_index=cfg.ignore_index, norm=norm)
    train_ds = subset(SegDataset(train_src, transform), cfg.train_images)
    loader = _loader(cfg, train_ds, info, dev)
    out = Path(cfg.out)
    job = TrainJob.from_config(cfg, device=dev, dist=info, epochs=None, desc="segment", ckpt_every=CKPT_EVERY,
                               resume=resolve_resume(cfg.resume, out) or None, stop_at_step=stop_at_step)
    _, total = job.plan(loader, f"{cfg.data}: {len(train_ds)} training images are too few for an "
                                f"effective batch of {job.effective_batch}")
    warmup = min(total, cfg.warmup_steps if cfg.warmup_steps is not None else 0)
    schedule = WarmupPoly(cfg.lr, warmup, total, power=cfg.poly_power, min_lr=cfg.min_lr)

    def run_eval(save_dir: str | None = None, keep: int = 0) -> dict[str, Any]:
        return evaluate(model, val_src, scale=scale, mode=cfg.mode, crop=cfg.crop_size, stride=stride,
                        device=dev, save_dir=save_dir, keep=keep, progress=cfg.progress, norm=norm)

    def on_step_end(step: int) -> None:
        if cfg.val_every and step % cfg.val_every == 0 and step < total:
            res = run_eval()
            job.evals.add({"step": step, **{k: res[k] for k in ("mIoU", "mAcc", "aAcc")}},
                          f"val step {step}: mIoU {res['mIoU']:.2f}  mAcc {res['mAcc']:.2f}  "
                          f"aAcc {res['aAcc']:.2f}")

    payload = {"kind": "segment", "config": saved_config(cfg), "model_config": model_config(mae.config, head),
               "classes": classes, "ignore_index": cfg.ignore_index,
               "data": data_payload(norm, norm_pix_loss=mae.config.norm_pix_loss, img_size=cfg.crop_size)}
    result = job.fit(model, loader, _seg_step(cfg, dev), optimizer, schedule, on_step_end=on_step_end,
                     payload=payload)
    res = run_eval(save_dir=cfg.save_predictions, keep=cfg.figure)
    samples = res.pop("samples")
    final = job.report("segment", cfg, result, mode=cfg.mode, num_classes=len(classes), **res,
                       head=asdict(head), trainable_params=trainable_fraction(model)[0])
    if info.is_main:
        write_results(out / "segment.json", final)
        if cfg.figure and samples:
            from colormae.viz.segment import segment_figure

            segment_figure(samples, classes, out / "segment.png", ignore_index=cfg.ignore_index, norm=norm,
                           bands=bands)
    return final


def _loader(cfg: SegmentConfig, train_ds: Any, info: Any, device: torch.device) -> Any:
    """The training loader (2 workers unless ``cfg.num_workers`` says otherwise)."""
    from colormae.train.loader import build_train_loader

    workers = 2 if cfg.num_workers is None else cfg.num_workers
    return build_train_loader(train_ds, batch_size=cfg.batch_size, seed=cfg.seed, dist=info,
                              num_workers=workers, device=device)
