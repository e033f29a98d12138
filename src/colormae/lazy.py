"""Packages whose public names are imported on first use (PEP 562), so that importing one light module of
a package (``colormae.noise.colors``, ``colormae.masking.names``: what ``colormae --help`` shows) does not
import torch through the package's ``__init__``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str], namespace: dict[str, Any]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: each name of ``homes`` comes from the submodule it maps
    to (``{"PatternBank": "bank"}``: ``package.bank``), imported when first asked for and then kept in
    ``namespace`` (the package's ``globals()``)."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__
