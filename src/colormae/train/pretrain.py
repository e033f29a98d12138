"""The pretraining job: model, data and masking from explicit arguments, run by the engine's ``fit``.

The keyword arguments are exactly the fields of :class:`colormae.config.PretrainConfig` (a test keeps
the two in step); the CLI calls ``pretrain(out, **config_to_dict(cfg), config=...)``. Works as one
process or under ``torchrun`` (one process per device, DDP).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as tdist
from tqdm.auto import tqdm

from colormae.errors import UserError
from colormae.train.distributed import cleanup_distributed, init_distributed, seed_everything
from colormae.train.engine import FitResult, fit, plan_steps
from colormae.train.optim import build_adamw
from colormae.train.schedule import WarmupCosine, scaled_lr

#: Name of the mask generator in a checkpoint's RNG state.
MASK_RNG = "mask"
#: Arguments of :func:`pretrain` that are not run settings (not written to config.yaml).
_NOT_CONFIG = ("out_dir", "resume", "device", "config", "progress", "stop_at_step")


def split_schedule(masking: str, mask_schedule: Sequence[Sequence[Any]] | None) -> tuple[str, list[tuple]]:
    """``[[0, a], [e1, b], ...]`` -> (``a``, ``[(e1, b), ...]``) for :func:`build_masking`."""
    if not mask_schedule:
        return masking, []
    stages = [(int(s[0]), *s[1:]) for s in mask_schedule]
    if stages[0][0] != 0:
        raise UserError("config key 'mask_schedule': the first stage must start at epoch 0, "
                        f"not {stages[0][0]}")
    return str(stages[0][1]), stages[1:]


def pretrain(out_dir: str | Path, *, model: str = "mae_vit_base_patch16", norm_pix_loss: bool = True,
             data: str = "mnist5k", img_size: int | None = None, num_workers: int | str | None = 2,
             data_backend: str = "cpu", grad_checkpointing: bool = False, bank_dtype: str = "float32",
             masking: str = "green", mask_ratio: float = 0.75, mask_mode: str = "independent",
             bank: str | None = None, bank_size: int = 3072, pattern_size: int = 256,
             mask_schedule: Sequence[Sequence[Any]] | None = None,
             epochs: int = 300, warmup_epochs: float = 40.0, max_steps: int | None = None,
             batch_size: int = 64, accum_steps: int = 1, base_lr: float = 1.5e-4, lr: float | None = None,
             min_lr: float = 0.0, weight_decay: float = 0.05, betas: Sequence[float] = (0.9, 0.95),
             grad_clip: float | None = None, amp: str = "auto", compile: bool = False, seed: int = 0,
             ckpt_every: int = 1000, keep_last: int = 3, log_every: int = 10,
             resume: str | Path | bool | None = None, device: str | None = None,
             config: dict[str, Any] | None = None, progress: bool = True,
             stop_at_step: int | None = None) -> FitResult:
    """Pretrain an MAE into ``out_dir`` (checkpoints, metrics.jsonl, tb/, config.yaml); see the module doc.

    ``resume``: ``True`` continues from the newest checkpoint in ``out_dir`` (fresh start if none), a path
    continues from that checkpoint or run directory. ``stop_at_step`` stops early, as if interrupted.
    ``num_workers``: a count or ``None`` / ``"auto"``; ``data_backend``: ``"cpu"`` or ``"gpu"``
    (:mod:`colormae.train.pretrain_data`); ``grad_checkpointing``: activation checkpointing of every
    block; ``bank_dtype``: colour-mask bank storage on the device, ``"float32"`` or ``"float16"``.
    """
    job = {k: v for k, v in locals().items() if k not in _NOT_CONFIG}
    if config is None:
        config = {k: list(v) if isinstance(v, tuple) else v for k, v in job.items()}
    from colormae.masking import build_masking, draw_masks
    from colormae.models import create_mae
    from colormae.train.pretrain_data import build_pretrain_data

    joined_here = not (tdist.is_available() and tdist.is_initialized())
    info, dev = init_distributed(device)
    try:
        torch.manual_seed(seed)  # the same initial weights on every rank
        overrides = {"norm_pix_loss": norm_pix_loss, **({"img_size": img_size} if img_size else {})}
        net = create_mae(model, **overrides).to(dev)
        net.set_grad_checkpointing(grad_checkpointing)
        seed_everything(seed + info.rank)
        source = build_pretrain_data(data, net.config.img_size, backend=data_backend, batch_size=batch_size,
                                     seed=seed, dist=info, num_workers=num_workers, device=dev,
                                     in_chans=net.config.in_chans)
        dataset, loader = source.dataset, source.loader
        first, later = split_schedule(masking, mask_schedule)
        strategy = build_masking(first, mask_ratio, bank=bank, mode=mask_mode, seed=seed, schedule=later,
                                 bank_size=bank_size, pattern_size=pattern_size, bank_dtype=bank_dtype)
        mask_gen = torch.Generator(device=dev).manual_seed(seed + info.rank)  # distinct masks per rank

        effective = batch_size * accum_steps * info.world_size
        peak_lr = lr if lr is not None else scaled_lr(base_lr, effective)
        steps_per_epoch, total = plan_steps(
            loader, epochs=epochs, accum_steps=accum_steps, max_steps=max_steps,
            too_small=f"{data}: {len(dataset)} images are too few for an effective batch of {effective}")
        warmup = min(total, round(warmup_epochs * steps_per_epoch))
        schedule = WarmupCosine(peak_lr, warmup, total, min_lr)
        optimizer = build_adamw(net, peak_lr, weight_decay=weight_decay,
                                betas=(float(betas[0]), float(betas[1])))
        amp_mode = ("bf16" if dev.type == "cuda" else "none") if amp == "auto" else amp
        grid = net.grid

        def step_fn(m: torch.nn.Module, batch: Any, step: int) -> tuple[torch.Tensor, dict[str, float]]:
            images = source.images(batch)
            masks = draw_masks(strategy, images.shape[0], grid, generator=mask_gen, device=dev)
            return m(images, masks.mask, masks.ids_keep).loss, {}  # ids handed over: no host sync

        if info.is_main:
            n_params = sum(p.numel() for p in net.parameters()) / 1e6
            tqdm.write(f"pretraining {model} ({n_params:.1f}M params) on {data} ({len(dataset)} images), "
                       f"{masking if not mask_schedule else 'scheduled'} masking {mask_ratio:g}; "
                       f"{info.world_size} x {dev.type}, effective batch {effective}, peak lr {peak_lr:.3g}, "
                       f"{total} steps ({steps_per_epoch}/epoch, warmup {warmup}), amp {amp_mode} "
                       f"-> {out_dir}")
        return fit(
            net, loader, step_fn, optimizer, schedule, epochs=epochs, max_steps=max_steps,
            accum_steps=accum_steps, amp=amp_mode, grad_clip=grad_clip, compile=compile, device=dev,
            dist=info,
            out_dir=out_dir, ckpt_every=ckpt_every, keep_last=keep_last, log_every=log_every, resume=resume,
            stop_at_step=stop_at_step, on_epoch_start=getattr(strategy, "set_epoch", None),
            generators={MASK_RNG: mask_gen}, progress=progress, desc="pretrain",
            payload={"kind": "pretrain", "model_config": dataclasses.asdict(net.config), "config": config},
        )
    finally:
        if joined_here:
            cleanup_distributed()
