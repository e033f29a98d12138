"""Load any model colormae reads and write it in another format: :func:`convert` (``colormae convert``).

It sits above :mod:`colormae.loading` (which reads every source) and :mod:`colormae.convert` (which writes
every target layout), so that neither of those needs the other's direction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colormae.convert.api import (
    export_colormae,
    export_dense,
    export_hf,
    export_timm,
    export_timm_classifier,
    timm_notes,
)
from colormae.convert.formats import SUFFIXES, TO_FORMATS
from colormae.data.normalization import data_payload, normalization_from_checkpoint
from colormae.errors import UserError
from colormae.loading import Loaded, load


def convert(src: str | Path, dst: str | Path, *, from_: str = "auto", to: str = "colormae",
            **overrides: Any) -> Loaded:
    """Load ``src`` with :func:`colormae.load` and export it to ``dst`` in format ``to``.

    Returns the :class:`colormae.loading.Loaded` (its ``notes`` include what the export needs said).
    ``--to hf`` writes a folder; the other formats write a file (``onnx``: the encoder as an ONNX model).
    """
    if to not in TO_FORMATS:
        raise UserError(f"--to must be one of {', '.join(TO_FORMATS)}, got {to!r}")
    dst = Path(dst)
    if to == "hf" and dst.is_file():
        raise UserError(f"-o {dst}: --to hf writes a folder, and this is an existing file")
    if to != "hf" and dst.is_dir():
        raise UserError(f"-o {dst}: an existing folder; --to {to} writes a file (e.g. {dst}/model.pt)")
    check_suffix(dst, to)
    loaded = load(src, from_=from_, **overrides)
    if loaded.kind == "finetune" and to == "timm":
        return _classifier_to_timm(loaded, dst)
    model = loaded.mae()
    data = loaded.checkpoint.get("data") or data_payload(
        normalization_from_checkpoint(loaded.checkpoint, model.config.in_chans),
        norm_pix_loss=model.config.norm_pix_loss, img_size=model.config.image_hw)
    if to == "timm":
        export_timm(model, dst, data=data)
        loaded.notes.extend(timm_notes(model.config))
    elif to == "hf":
        export_hf(model, dst, data=data)
    elif to == "colormae":
        export_colormae(model, dst, source=loaded.name, layout=loaded.source_format, data=data)
    elif to == "onnx":
        from colormae.convert.onnx_export import export_onnx

        export_onnx(model, dst, data=data)
    else:
        loaded.notes.extend(export_dense(model, dst, to, data=data))
    return loaded


def check_suffix(dst: Path, to: str) -> None:
    """Refuse a file name whose ending says another format (``-o w.pt --to timm`` would be safetensors)."""
    allowed = SUFFIXES.get(to)
    if allowed and dst.suffix and dst.suffix.lower() not in allowed:
        raise UserError(f"-o {dst}: --to {to} writes a {allowed[0]} file; name it "
                        f"{dst.with_suffix(allowed[0])} (or pick the --to that {dst.suffix} means)")


def _classifier_to_timm(loaded: Loaded, dst: Path) -> Loaded:
    """A fine-tuned classifier is already a timm ViT: its weights with the head, class count and names."""
    ckpt = loaded.checkpoint
    cfg = ckpt.get("model_config") or {}
    names = ckpt.get("classes")
    export_timm_classifier(loaded.model, loaded.config, dst, num_classes=int(cfg["num_classes"]),
                           global_pool=cfg.get("global_pool", "avg"), class_names=names,
                           data=ckpt.get("data"))
    loaded.notes.extend(timm_notes(loaded.config))
    if not names:
        loaded.notes.append("the checkpoint stores no class names (fine-tuned before colormae kept them)")
    return loaded
