"""colormae: Masked Autoencoder pretraining with data-independent colour-noise masks (ColorMAE).

``colormae.load(spec)`` reads any checkpoint, run directory, foreign MAE file or ``random:<preset>``
(:func:`colormae.loading.load`); the command line is ``colormae --help``.
"""

__version__ = "0.1.0"

__all__ = ["load", "__version__"]


def __getattr__(name: str):  # PEP 562: ``colormae.load`` without importing torch on ``import colormae``
    if name in ("load", "Loaded"):
        from colormae import loading

        return getattr(loading, name)
    raise AttributeError(f"module 'colormae' has no attribute {name!r}")


def __dir__() -> list[str]:  # help(colormae) and tab completion list the lazy names too
    return sorted({*globals(), "load", "Loaded"})
