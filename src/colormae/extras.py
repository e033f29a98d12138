"""Optional dependencies: which ``pip install "colormae[EXTRA]"`` brings which package, and the one way
the library imports an optional package (lazily, inside the function that needs it).

The core (pretraining, masks, patterns, probes, fine-tuning, conversion to and from our format and timm)
needs only the packages of ``[project] dependencies`` in ``pyproject.toml``; everything else belongs to an
extra listed in :data:`EXTRAS` (``tests/test_package.py`` checks that this table and ``pyproject.toml``
agree). A missing package is a :class:`~colormae.errors.UserError` of one line::

    colormae segment needs transformers: pip install "colormae[dense]"
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from colormae.errors import UserError

#: extra -> {distribution name on PyPI: the module it installs}, as in pyproject's optional-dependencies.
EXTRAS: dict[str, dict[str, str]] = {
    "viz": {"matplotlib": "matplotlib", "grad-cam": "pytorch_grad_cam", "tensorboard": "tensorboard"},
    "dense": {"transformers": "transformers", "pycocotools": "pycocotools"},
    "hf": {"transformers": "transformers", "datasets": "datasets"},
    "tiff": {"tifffile": "tifffile", "opencv-python-headless": "cv2"},
    "photos": {"scikit-image": "skimage", "scikit-learn": "sklearn", "matplotlib": "matplotlib"},
    "onnx": {"onnx": "onnx", "onnxruntime": "onnxruntime"},
    "wandb": {"wandb": "wandb"},
    "shards": {"webdataset": "webdataset"},
}


def _distribution(module: str, extra: str) -> str:
    """The PyPI name of ``module``'s top-level package in ``extra`` (the module name when not listed)."""
    top = module.partition(".")[0]
    return next((dist for dist, mod in EXTRAS.get(extra, {}).items() if mod == top), top)


def install_hint(extra: str) -> str:
    """``pip install "colormae[EXTRA]"``."""
    return f'pip install "colormae[{extra}]"'


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """``importlib.import_module(module)``, or a one-line UserError naming the extra that brings it.

    Args:
        module: the module to import, e.g. ``"pycocotools.coco"``.
        extra: the extra of :data:`EXTRAS` that installs it.
        feature: what needs it, the start of the message (``"colormae segment"``).
    """
    if extra not in EXTRAS:
        raise KeyError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise UserError(f"{feature} needs {_distribution(module, extra)}: {install_hint(extra)}") from err


def missing(extra: str) -> list[str]:
    """Distributions of ``extra`` whose module cannot be found (without importing any of them)."""
    out = []
    for dist, module in EXTRAS[extra].items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(dist)
    return out


def require_extra(extra: str, *, feature: str) -> None:
    """Raise the one-line UserError when any package of ``extra`` is missing (checked before a long job
    starts, so it fails at once rather than after hours of training)."""
    absent = missing(extra)
    if absent:
        raise UserError(f"{feature} needs {', '.join(absent)}: {install_hint(extra)}")
