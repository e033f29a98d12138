"""colormae: Masked Autoencoder pretraining with data-independent colour-noise masks (ColorMAE)."""

__version__ = "0.1.0"
