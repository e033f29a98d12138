"""Checkpoint import / export: facebookresearch/mae, mmpretrain (official ColorMAE), Hugging Face
ViTMAE, timm ViT and our own format (loading a spec and writing it elsewhere:
:func:`colormae.export.convert`). Entry points: :func:`import_model`,
:func:`export_timm`, :func:`export_hf`, :func:`export_colormae`.

Names resolve lazily (PEP 562), so ``colormae --help`` does not import timm through this package.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FROM_LAYOUTS": "formats", "TO_FORMATS": "formats", "Imported": "api",
    "detect_layout": "api", "export_colormae": "api", "export_hf": "api", "export_timm": "api",
    "import_model": "api", "load_into": "api", "timm_notes": "api", "timm_spec": "api",
    "ConversionError": "reading",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"colormae.convert.{_EXPORTS[name]}"), name)
