"""Data: built-in data sets (mnist5k, photos, natural), the user's image folders (any channel count and bit
depth), normalisation statistics, MAE transforms.

See ``docs/architecture.md``.
"""

from colormae.data.build import (
    BUILTIN,
    build_dataset,
    check_same_classes,
    data_channels,
    is_builtin,
    num_classes,
    sample_images,
)
from colormae.data.folder import SafeImageFolder, skipped_total
from colormae.data.mnist import MNIST5k
from colormae.data.normalization import (
    NORMALIZE,
    Normalization,
    data_payload,
    normalization_from_checkpoint,
)
from colormae.data.photos import Photos
from colormae.data.readers import ImageInfo, probe, read_image
from colormae.data.resolve import compute_stats, resolve_normalization
from colormae.data.stats import STATS_FILE, channel_stats, find_stats_file, write_stats
from colormae.data.transforms import (
    MEAN,
    STD,
    eval_transform,
    image_hw,
    mae_transform,
    tensor_transform,
    to_rgb,
)

__all__ = [
    "BUILTIN", "MEAN", "MNIST5k", "NORMALIZE", "Normalization", "Photos", "STATS_FILE", "STD", "ImageInfo",
    "SafeImageFolder", "build_dataset", "channel_stats", "check_same_classes", "compute_stats",
    "data_channels", "data_payload", "eval_transform", "find_stats_file", "image_hw", "is_builtin",
    "mae_transform", "normalization_from_checkpoint", "num_classes", "probe", "read_image",
    "resolve_normalization", "sample_images", "skipped_total", "tensor_transform", "to_rgb", "write_stats",
]
