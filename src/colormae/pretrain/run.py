"""The pretraining job: model, data and masking from explicit arguments, run by the engine's ``fit``.

It takes the job's :class:`~colormae.jobs.pretrain.PretrainConfig` (the settings are declared there
once); below it, functions take explicit arguments. Works as one process or under ``torchrun`` (one
process per device, DDP).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as tdist

from colormae.config import saved_config
from colormae.errors import UserError
from colormae.jobs.pretrain import PretrainConfig
from colormae.pretrain.schedule import build_schedule, drop_last, peak_lr
from colormae.progress import write
from colormae.train.distributed import cleanup_distributed, init_distributed, seed_everything
from colormae.train.job import TrainJob
from colormae.train.loop import FitResult
from colormae.train.optim import build_adamw

#: Name of the mask generator in a checkpoint's RNG state.
MASK_RNG = "mask"
#: Default checkpoint interval in optimizer steps (the run's final step is always saved).
CKPT_EVERY = 1000


def split_schedule(masking: str, mask_schedule: Sequence[Sequence[Any]] | None) -> tuple[str, list[tuple]]:
    """``[[0, a], [e1, b], ...]`` -> (``a``, ``[(e1, b), ...]``) for :func:`build_masking`."""
    if not mask_schedule:
        return masking, []
    stages = [(int(s[0]), *s[1:]) for s in mask_schedule]
    if stages[0][0] != 0:
        raise UserError("config key 'mask_schedule': the first stage must start at epoch 0, "
                        f"not {stages[0][0]}")
    return str(stages[0][1]), stages[1:]


def _log_skipped(run_dir: Path, step: int, skipped: int) -> None:
    """Append the run's total of skipped unreadable images to ``metrics.jsonl`` (one record, no loss: loss
    curves skip it)."""
    import json

    path = run_dir / "metrics.jsonl"
    if path.parent.is_dir():
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"step": step, "skipped_images": skipped}) + "\n")


def _build_model(cfg: PretrainConfig, channels: int, start: Any = None,
                 band_names: Sequence[str] | None = None) -> tuple[Any, dict[str, Any] | None]:
    """The MAE of ``cfg`` (on the CPU) for ``channels``-channel images, activation checkpointing as set,
    and the ``"init"`` entry of its checkpoints: warm-started from ``start``
    (:func:`colormae.pretrain.init.load_start`) when given, else fresh (entry ``None``)."""
    from colormae.models import create_mae

    if start is not None:
        from colormae.pretrain.init import warm_model

        net, entry = warm_model(cfg, start, channels, band_names)
        net.set_grad_checkpointing(cfg.grad_checkpointing)
        return net, entry
    overrides: dict[str, Any] = {"norm_pix_loss": cfg.norm_pix_loss, "in_chans": channels}
    if cfg.img_size:
        overrides["img_size"] = tuple(cfg.img_size) if isinstance(cfg.img_size, list) else cfg.img_size
    net = create_mae(cfg.model, **overrides)
    net.set_grad_checkpointing(cfg.grad_checkpointing)
    return net, None


def _summary(cfg: PretrainConfig, net: Any, images: int, channels: int, normalize: str, job: TrainJob,
             warmup: int) -> str:
    """The line announcing a pretraining run."""
    n_params = sum(p.numel() for p in net.parameters()) / 1e6
    masks = cfg.masking if not cfg.mask_schedule else "scheduled"
    h, w = net.config.image_hw
    source = cfg.model if not cfg.init else f"from {cfg.init}"
    return (f"pretraining {source} ({n_params:.1f}M params) on {cfg.data} ({images} "
            f"images, {channels} ch, {h}x{w}, {normalize} normalisation), {masks} masking "
            f"{cfg.mask_ratio:g}; {job.dist.world_size} x {job.device.type}, "
            f"effective batch {job.effective_batch}, peak lr {peak_lr(cfg, job.effective_batch):.3g}, "
            f"{job.total_steps} steps "
            f"({job.steps_per_epoch}/epoch, warmup {warmup}), amp {job.settings.amp} -> {cfg.out}")


def pretrain(cfg: PretrainConfig, *, stop_at_step: int | None = None) -> FitResult:
    """Pretrain an MAE into ``cfg.out`` (checkpoints, metrics.jsonl, tb/, config.yaml); see the module doc.

    ``cfg.resume``: ``"auto"`` continues from the newest checkpoint in ``cfg.out`` (fresh start if none),
    a path continues from that checkpoint or run directory. ``stop_at_step`` stops early, as if
    interrupted. ``cfg.data_backend`` picks the data path (:mod:`colormae.pretrain.data`);
    ``cfg.grad_checkpointing`` turns on activation checkpointing of every block.

    Data: ``cfg.img_size`` is an int or ``(H, W)``; ``cfg.in_chans`` the channels the model sees
    (default: the folder's own count, the preset's for built-in data); ``cfg.normalize`` ``auto`` |
    ``imagenet`` | ``dataset`` | ``none`` (see :mod:`colormae.data.normalization`). The normalisation,
    the norm-pix flag and the image size are stored in every checkpoint under ``"data"``; the number of
    unreadable images skipped is ``FitResult.skipped_images`` and, when there were any, the last record
    of ``metrics.jsonl`` (``{"step": N, "skipped_images": K}``).
    """
    from colormae.data import build_dataset, data_payload, is_builtin, resolve_normalization, skipped_total
    from colormae.masking import build_masking, draw_masks
    from colormae.masking.base import num_keep
    from colormae.models import resolve_config
    from colormae.pretrain.data import build_pretrain_data
    from colormae.pretrain.init import load_start
    from colormae.pretrain.monitors import build_monitors

    joined_here = not (tdist.is_available() and tdist.is_initialized())
    info, dev = init_distributed(cfg.device)
    try:
        builtin = is_builtin(cfg.data)
        dataset = build_dataset(cfg.data, split="train", channels=None if builtin else cfg.in_chans)
        start = load_start(cfg)  # init=: the file (or the checkpoint --resume continues)
        model_chans = start.loaded.in_chans if start is not None else resolve_config(cfg.model).in_chans
        channels = (cfg.in_chans or model_chans) if builtin else dataset.channels
        norm = resolve_normalization(cfg.normalize, channels, cfg.data, builtin=builtin,
                                     progress=info.is_main and cfg.progress, stats_file=cfg.stats_file)
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        net, init_entry = _build_model(cfg, channels, start, norm.channel_names)
        net = net.to(dev)
        seed_everything(cfg.seed + info.rank)
        source = build_pretrain_data(dataset, net.config.image_hw, norm, backend=cfg.data_backend,
                                     batch_size=cfg.batch_size, seed=cfg.seed, dist=info,
                                     num_workers=cfg.num_workers, device=dev, drop_last=drop_last(cfg))
        first, later = split_schedule(cfg.masking, cfg.mask_schedule)
        strategy = build_masking(first, cfg.mask_ratio, bank=cfg.bank, mode=cfg.mask_mode, seed=cfg.seed,
                                 schedule=later, bank_size=cfg.bank_size, pattern_size=cfg.pattern_size,
                                 bank_dtype=cfg.bank_dtype)
        mask_gen = torch.Generator(device=dev).manual_seed(cfg.seed + info.rank)  # distinct masks per rank

        job = TrainJob.from_config(cfg, device=dev, dist=info, epochs=cfg.epochs, desc="pretrain",
                                   ckpt_every=CKPT_EVERY, resume=cfg.resume, stop_at_step=stop_at_step)
        steps_per_epoch, total = job.plan(source.loader, f"{cfg.data}: {len(dataset)} images are too few for "
                                                         f"an effective batch of {job.effective_batch}")
        schedule, warmup = build_schedule(cfg, job.effective_batch, steps_per_epoch, total)
        optimizer = build_adamw(net, peak_lr(cfg, job.effective_batch), weight_decay=cfg.weight_decay,
                                betas=(float(cfg.betas[0]), float(cfg.betas[1])))
        grid = net.grid
        num_keep(grid[0] * grid[1], cfg.mask_ratio)  # no visible patch left: one line, before step 1

        def step_fn(m: torch.nn.Module, batch: Any, step: int) -> tuple[torch.Tensor, dict[str, float]]:
            images = source.images(batch)
            masks = draw_masks(strategy, images.shape[0], grid, generator=mask_gen, device=dev)
            return m(images, masks.mask, masks.ids_keep).loss, {}  # ids handed over: no host sync

        if info.is_main:
            write(_summary(cfg, net, len(dataset), channels, norm.normalize, job, warmup))
        monitor = build_monitors(cfg, net, norm, strategy, dev) if info.is_main else None
        result = job.fit(net, source.loader, step_fn, optimizer, schedule, monitor=monitor, logger=cfg.logger,
                         on_epoch_start=getattr(strategy, "set_epoch", None), generators={MASK_RNG: mask_gen},
                         payload={"kind": "pretrain", "model_config": dataclasses.asdict(net.config),
                                  "config": saved_config(cfg),
                                  "data": data_payload(norm, norm_pix_loss=net.config.norm_pix_loss,
                                                       img_size=net.config.image_hw),
                                  **({"init": init_entry} if init_entry else {})})
        result.skipped_images = skipped_total(source.dataset)
        if info.is_main and cfg.out and result.skipped_images:
            _log_skipped(Path(cfg.out), result.step, result.skipped_images)
        return result
    finally:
        if joined_here:
            cleanup_distributed()
