"""Load any model colormae reads and write it in another format: :func:`convert` (``colormae convert``).

It sits above :mod:`colormae.loading` (which reads every source) and :mod:`colormae.convert` (which writes
every target layout), so that neither of those needs the other's direction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colormae.convert.api import export_colormae, export_dense, export_hf, export_timm, timm_notes
from colormae.convert.formats import TO_FORMATS
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
    loaded = load(src, from_=from_, **overrides)
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
