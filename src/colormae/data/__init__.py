"""Data: built-in data sets (mnist5k, photos), the user's image folders, MAE transforms.

See ``docs/architecture.md``.
"""

from colormae.data.build import BUILTIN, build_dataset, num_classes, sample_images
from colormae.data.folder import SafeImageFolder
from colormae.data.mnist import MNIST5k
from colormae.data.photos import Photos
from colormae.data.transforms import MEAN, STD, eval_transform, mae_transform, tensor_transform, to_rgb

__all__ = [
    "BUILTIN", "MEAN", "MNIST5k", "Photos", "STD", "SafeImageFolder", "build_dataset", "eval_transform",
    "mae_transform", "num_classes", "sample_images", "tensor_transform", "to_rgb",
]
