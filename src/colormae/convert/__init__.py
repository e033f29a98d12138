"""Checkpoint import / export: facebookresearch/mae, mmpretrain (official ColorMAE), Hugging Face
ViTMAE, timm ViT and our own format; export only: the backbones of mmseg, mmdet's and detectron2's ViTDet
and the encoder as ONNX (loading a spec and writing it elsewhere: :func:`colormae.export.convert`).
Entry points: :func:`import_model`, :func:`export_timm`, :func:`export_hf`, :func:`export_colormae`,
:func:`export_dense`, :func:`export_onnx`.

Names resolve lazily (PEP 562), so ``colormae --help`` does not import timm through this package.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FROM_LAYOUTS": "formats", "TO_FORMATS": "formats", "Imported": "api",
    "detect_layout": "api", "export_colormae": "api", "export_dense": "api", "export_hf": "api",
    "export_onnx": "onnx_export", "export_timm": "api", "export_timm_classifier": "api",
    "timm_create_call": "api", "timm_create_kwargs": "api", "timm_pretrained_cfg": "api",
    "import_model": "api", "load_into": "api", "timm_notes": "api", "timm_spec": "api",
    "ConversionError": "reading",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"colormae.convert.{_EXPORTS[name]}"), name)
