"""Checkpoint import / export: facebookresearch/mae, mmpretrain (official ColorMAE), Hugging Face
ViTMAE, timm ViT and our own format. Entry points: :func:`import_model`, :func:`convert`,
:func:`export_timm`, :func:`export_hf`, :func:`export_colormae`."""

from colormae.convert.api import (
    FROM_LAYOUTS,
    TO_FORMATS,
    Imported,
    convert,
    detect_layout,
    export_colormae,
    export_hf,
    export_timm,
    import_model,
    load_into,
    timm_spec,
)
from colormae.convert.reading import ConversionError

__all__ = [
    "FROM_LAYOUTS", "TO_FORMATS", "ConversionError", "Imported", "convert", "detect_layout",
    "export_colormae", "export_hf", "export_timm", "import_model", "load_into", "timm_spec",
]
