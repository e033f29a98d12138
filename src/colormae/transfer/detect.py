"""``detect(cfg)``: fine-tune ViTDet's Mask R-CNN on the shared training engine, then score it with COCOeval.

The loop - DDP, AMP, accumulation, checkpoints, exact resume, metrics, progress - is
:func:`colormae.train.engine.fit`; this module supplies the detector
(:func:`~colormae.dense.detect.model.detector_from_encoder`), the COCO data with large-scale jitter, AdamW
with ViTDet's layer-wise lr decay (:func:`~colormae.dense.detect.model.vit_lr_scale`), the warm-up + step
schedule and the evaluation. Checkpoints are ``kind="detect"`` with ``model_config`` (the encoder's shapes)
and ``detector`` (:class:`~colormae.dense.detect.model.DetectorConfig`); :func:`load_detector` rebuilds
the model from one. Outputs: ``DIR/detections_val.json`` (COCO results), ``DIR/detect.json`` (box and
mask AP, AP50, AP75, APs/m/l in percent), ``DIR/eval.jsonl`` (one line per evaluation), ``DIR/detect.png``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from colormae.errors import UserError
from colormae.jobs.detect import DetectConfig
from colormae.progress import write

#: ViTDet's warm-up (mmdet ``LinearLR`` end=250), capped at a tenth of shorter runs.
WARMUP_STEPS = 250
#: Reported when a run has no val annotations of some area range (COCO's -1).
RESULTS_FILE = "detections_val.json"


def resolve_data(data: str, out: Path, seed: int = 0) -> Path:
    """A COCO folder for ``data``: the built-in scenes (exported under ``out/scenes_coco``) or ``data``."""
    from colormae.dense.scenes import parse_spec

    spec = parse_spec(data)
    if spec is not None:
        from colormae.dense.detect.scenes_coco import export_scenes

        return export_scenes(out / "scenes_coco", size=spec.size, seed=seed, bands=spec.bands)
    return Path(data).expanduser()


def load_detector(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[nn.Module, Any]:
    """The detector of a ``detect`` run directory or checkpoint (through :func:`colormae.load`), in eval
    mode, and its ``DetectorConfig``."""
    from colormae.dense.detect.model import DetectorConfig
    from colormae.loading import load

    loaded = load(path, map_location=map_location)
    if loaded.kind != "detect":
        raise UserError(f"{loaded.name}: not a detection checkpoint (kind {loaded.kind!r})")
    return loaded.model, DetectorConfig(**loaded.checkpoint["detector"])


def _datasets(cfg: DetectConfig, train_split: Any, val_split: Any) -> tuple[Any, Any]:
    """``(train set with large-scale jitter, val set)`` of two COCO splits, read at the train images'
    channel count until :func:`_read_at` sets the model's."""
    from colormae.dense.detect.coco import CocoDetection
    from colormae.dense.detect.transforms import LargeScaleJitter

    lo, hi = cfg.scale_range
    if not 0 < lo <= hi:
        raise UserError(f"scale_range: expected 0 < low <= high, got {cfg.scale_range}")
    train_ds = CocoDetection(train_split, train=True, masks=cfg.masks,
                             transform=LargeScaleJitter(cfg.img_size, (lo, hi)))
    val_ds = CocoDetection(val_split, train=False, masks=False, cat_ids=train_ds.cat_ids)
    return train_ds, val_ds


def _read_at(channels: int, *datasets: Any) -> None:
    """Read every image of ``datasets`` at ``channels`` channels (the model's)."""
    for ds in datasets:
        ds.read_channels = channels


def _detector_config(cfg: DetectConfig, train_ds: Any, norm: Any) -> Any:
    """The :class:`~colormae.dense.detect.model.DetectorConfig` of ``cfg`` for ``train_ds``'s classes and
    images normalised with ``norm``."""
    from colormae.dense.detect.model import DetectorConfig

    return DetectorConfig(num_classes=train_ds.num_classes, masks=cfg.masks, img_size=cfg.img_size,
                          window_size=cfg.window_size, global_blocks=cfg.global_blocks,
                          pyramid_scales=cfg.pyramid_scales, channels=cfg.fpn_channels,
                          drop_path=cfg.drop_path, score_thresh=cfg.score_thresh,
                          detections_per_img=cfg.detections_per_img, roi_batch=cfg.roi_batch,
                          class_names=train_ds.class_names, cat_ids=train_ds.cat_ids,
                          image_mean=list(norm.mean), image_std=list(norm.std))


def _detect_step(device: torch.device) -> Any:
    """The engine's ``step_fn``: (images, COCO targets) -> (summed loss, each of the detector's losses)."""

    def step_fn(net: nn.Module, batch: Any, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        images, targets = batch
        images = [im.to(device, non_blocking=True) for im in images]
        targets = [{k: v.to(device, non_blocking=True) for k, v in t.items()} for t in targets]
        losses = net(images, targets)
        return sum(losses.values()), {k: v.detach() for k, v in losses.items()}

    return step_fn


def _write_outputs(cfg: DetectConfig, out: Path, final: dict[str, Any], results: list[dict[str, Any]],
                   val_ds: Any, class_names: list[str], norm: Any, bands: tuple[int, ...]) -> None:
    """Rank 0's files: the COCO results, ``detect.json`` and the figure."""
    from colormae.eval.results import write_results
    from colormae.files import atomic_write_text

    atomic_write_text(out / RESULTS_FILE, json.dumps(results))
    write_results(out / "detect.json", final)
    if cfg.figure_images:
        from colormae.viz.detect import plot_detections

        plot_detections(val_ds, results, out / "detect.png", count=cfg.figure_images, class_names=class_names,
                        norm=norm, bands=bands)


def detect(cfg: DetectConfig, *, stop_at_step: int | None = None) -> dict[str, Any]:
    """Fine-tune ``cfg.ckpt``'s encoder as a detector on ``cfg.data`` into ``cfg.out``; returns results."""
    from colormae.config import saved_config
    from colormae.data.normalization import data_payload
    from colormae.dense.detect.coco import collate, find_split, read_coco
    from colormae.dense.detect.evaluate import evaluate_results, predict
    from colormae.dense.detect.model import detector_from_encoder, vit_lr_scale
    from colormae.models.freeze import freeze, trainable_fraction
    from colormae.train.distributed import barrier, init_distributed, seed_everything
    from colormae.train.engine import resolve_resume
    from colormae.train.job import TrainJob
    from colormae.train.loader import build_train_loader
    from colormae.train.optim import build_adamw
    from colormae.train.schedule import WarmupMultiStep
    from colormae.transfer.encoder import dense_encoder, figure_bands

    out = Path(cfg.out)
    info, dev = init_distributed(cfg.device)
    if info.is_main:
        root = resolve_data(cfg.data, out)
    barrier(info)
    root = resolve_data(cfg.data, out) if not info.is_main else root
    train_split, val_split = find_split(root, "train"), find_split(root, "val")
    seed_everything(cfg.seed + info.rank)
    train_ds, val_ds = _datasets(cfg, train_split, val_split)
    loaded, norm = dense_encoder(cfg.ckpt, cfg.data, train_ds, init_channels=cfg.init_channels,
                                 normalize=cfg.normalize, seed=cfg.seed, progress=cfg.progress,
                                 say=info.is_main)
    if loaded.kind == "finetune":
        raise UserError(f"{cfg.ckpt}: a fine-tuned classifier; pass the pretraining checkpoint")
    mae = loaded.mae()
    _read_at(mae.config.in_chans, train_ds, val_ds)
    bands = figure_bands(cfg.bands, mae.config.in_chans)
    det = _detector_config(cfg, train_ds, norm)
    model, notes = detector_from_encoder(mae.config, mae.encoder.state_dict(), det)
    if cfg.freeze_encoder:  # a frozen ViT: only the simple feature pyramid and the heads learn
        freeze(model.backbone.vit)
    model = model.to(dev)
    if info.is_main:
        for note in [*loaded.notes, *notes]:
            write(f"note: {note}")
    optimizer = build_adamw(model, cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.999),
                            lr_scale=vit_lr_scale(mae.config.depth, cfg.layer_decay))
    workers = 2 if cfg.num_workers is None else cfg.num_workers
    loader = build_train_loader(train_ds, batch_size=cfg.batch_size, seed=cfg.seed, dist=info,
                                num_workers=workers, device=dev, collate_fn=collate)
    job = TrainJob.from_config(cfg, device=dev, dist=info, epochs=cfg.epochs, desc="detect", ckpt_every=None,
                               resume=resolve_resume(cfg.resume, out) or None, stop_at_step=stop_at_step)
    _, total = job.plan(loader, f"{train_split.json}: {len(train_ds)} training images are too few for an "
                                f"effective batch of {job.effective_batch}")
    warmup = cfg.warmup_steps if cfg.warmup_steps is not None else min(WARMUP_STEPS, total // 10)
    schedule = WarmupMultiStep(cfg.lr, min(warmup, total), tuple(round(f * total) for f in cfg.lr_milestones))
    gt = read_coco(val_split.json)

    def evaluate(step: int) -> list[dict[str, Any]]:
        results = predict(model, val_ds, device=dev, batch_size=cfg.eval_batch_size, progress=cfg.progress)
        record = {"step": step, **evaluate_results(gt, results, cfg.masks)}
        job.evals.add(record, f"val step {step}: box AP {record['box']['AP']:.2f}"
                      + (f", mask AP {record['mask']['AP']:.2f}" if "mask" in record else ""))
        return results

    def on_step_end(step: int) -> None:
        if cfg.eval_every and step % cfg.eval_every == 0 and step < total:
            evaluate(step)

    payload = {"kind": "detect", "config": saved_config(cfg), "model_config": asdict(mae.config),
               "detector": det.to_dict(),
               "data": data_payload(norm, norm_pix_loss=mae.config.norm_pix_loss, img_size=cfg.img_size)}
    result = job.fit(model, loader, _detect_step(dev), optimizer, schedule, on_step_end=on_step_end,
                     payload=payload)
    results = evaluate(result.step)
    last, history = job.evals.history[-1], job.evals.history
    final = job.report("detect", cfg, result, lead={"masks": cfg.masks}, val_images=len(val_ds),
                       detections=len(results), **{k: last[k] for k in ("box", "mask") if k in last},
                       trainable_params=trainable_fraction(model)[0], history=history)
    if info.is_main:
        _write_outputs(cfg, out, final, results, val_ds, train_ds.class_names, norm, bands)
    return final
