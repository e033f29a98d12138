"""``pretrain init=CKPT``: the run's model starts from the weights of any checkpoint :func:`colormae.load`
reads (weights only: the optimizer and the lr schedule start fresh).

The architecture (widths, depths, heads, decoder) is the file's. ``model=``, when set, must fit it: a
patch size or width that differs is refused in one line naming both. The run's ``img_size`` resamples
the position tables (:func:`colormae.models.resize.resize_mae`), its channel count maps the patch
embedding when ``init_channels`` says how (:func:`colormae.loading.adapt_channels`), its ``norm_pix_loss``
is used (with a warning when the file's differs). An encoder-only file (timm, facebookresearch/mae's
encoder release) gets a fresh decoder (MAE initialisation, seeded). Every checkpoint of the run records
where it started under ``"init"``.

``--resume`` keeps its meaning and wins: when it finds a checkpoint, the run continues from it and
``init`` is not applied again (the resumed checkpoint's ``"init"`` entry is carried on).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from colormae.errors import UserError
from colormae.jobs.pretrain import PretrainConfig
from colormae.loading import Loaded, adapt_channels, load
from colormae.models import MaskedAutoencoder, resolve_config
from colormae.progress import warn, write


@dataclasses.dataclass
class Start:
    """Where a run's weights come from: the loaded file, or the checkpoint ``--resume`` continues."""

    loaded: Loaded
    resuming: bool = False


def _model_was_set(cfg: PretrainConfig) -> bool:
    return cfg.model != PretrainConfig.__dataclass_fields__["model"].default


def load_start(cfg: PretrainConfig) -> Start | None:
    """The checkpoint the run starts from: ``None`` without ``init``; the resumed checkpoint when
    ``--resume`` finds one (its architecture, to be overwritten by its own weights); else ``cfg.init``."""
    if not cfg.init:
        return None
    from colormae.train.engine import resolve_resume

    resumed = resolve_resume(cfg.resume, Path(cfg.out)) if cfg.out else None
    if resumed is not None:
        return Start(load(resumed), resuming=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)  # an encoder-only file's fresh decoder: the same on every rank and run
        loaded = load(cfg.init, seed=cfg.seed)
    if loaded.kind not in ("pretrain", "random"):
        raise UserError(f"init={cfg.init}: a {loaded.kind} checkpoint; pretraining starts from a pretraining "
                        "(MAE) checkpoint or an encoder")
    if _model_was_set(cfg):
        want, have = resolve_config(cfg.model), loaded.config
        for what, a, b in (("patch size", have.patch_size, want.patch_size),
                           ("width", have.embed_dim, want.embed_dim)):
            if a != b:
                raise UserError(f"init={cfg.init}: its {what} {a} does not fit model={cfg.model} ({what} "
                                f"{b}); drop model= to take the file's architecture")
    return Start(loaded)


def _file_norm_pix(loaded: Loaded) -> bool | None:
    """The norm-pix flag the file was trained with, when it says (ours, Hugging Face, facebookresearch/mae's
    args, an mmengine config); else ``None``."""
    data = loaded.checkpoint.get("data")
    if isinstance(data, dict) and "norm_pix_loss" in data:
        return bool(data["norm_pix_loss"])
    if "source_norm_pix_loss" in loaded.checkpoint:
        return bool(loaded.checkpoint["source_norm_pix_loss"])
    return loaded.config.norm_pix_loss if loaded.source_format in ("colormae", "hf") else None


def _target_hw(cfg: PretrainConfig, loaded: Loaded) -> tuple[int, int]:
    size: Any = cfg.img_size or loaded.img_size
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def warm_model(cfg: PretrainConfig, start: Start, channels: int, band_names: Sequence[str] | None = None
               ) -> tuple[MaskedAutoencoder, dict[str, Any]]:
    """The run's MAE from ``start`` and the ``"init"`` entry its checkpoints record (see the module doc)."""
    from colormae.models.resize import resize_mae

    loaded = start.loaded
    if start.resuming:
        write(f"--resume continues {loaded.name}; init={cfg.init} is not applied again")
        return loaded.mae(), dict(loaded.checkpoint.get("init") or {"from": cfg.init})
    source = dict(channels=loaded.in_chans, img_size=list(loaded.img_size),
                  norm_pix_loss=_file_norm_pix(loaded))
    mapped = None
    if channels != loaded.in_chans:
        if not cfg.init_channels:
            raise UserError(f"init={cfg.init} has {loaded.in_chans} channel(s), the data {channels}: set "
                            "init_channels=mean (or names, or BAND:R,BAND:G,BAND:B) to map its patch "
                            "embedding")
        mapped = adapt_channels(loaded, channels, cfg.init_channels, band_names=band_names).channel_map
    if source["norm_pix_loss"] is not None and source["norm_pix_loss"] != cfg.norm_pix_loss:
        warn(f"init={cfg.init} was trained with norm_pix_loss={source['norm_pix_loss']}, this run uses "
             f"{cfg.norm_pix_loss}: its decoder predicts the other target at first")
    mae = resize_mae(loaded.mae(), _target_hw(cfg, loaded))
    config = dataclasses.replace(mae.config, norm_pix_loss=cfg.norm_pix_loss)
    net = MaskedAutoencoder(config)
    net.load_state_dict(mae.state_dict())
    parts = ["encoder", "decoder"] if loaded.decoder else ["encoder"]
    fresh = [*([] if loaded.decoder else ["decoder (MAE init)"]), "optimizer", "lr schedule"]
    for note in loaded.notes:
        if note != mapped:
            write(f"init: {note}")
    write(f"init from {loaded.name} ({loaded.source_format}): loaded {' and '.join(parts)}; fresh: "
          f"{', '.join(fresh)}" + (f"; {mapped}" if mapped else ""))
    entry = {"from": str(loaded.name), "format": loaded.source_format, "loaded": parts, "fresh": fresh,
             "source": source, "step": loaded.checkpoint.get("step"), "channels": mapped}
    return net, entry
