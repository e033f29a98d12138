"""What the ``colormae viz`` commands draw from: a checkpoint (pre-trained or fine-tuned) and images.

Models load through :func:`colormae.load`. Images come from files or folders of images (resized and
centre-cropped by ``colormae.data.eval_transform``) or, when none is given, from the photos that install
with scikit-image / scikit-learn / matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from colormae.errors import UserError

if TYPE_CHECKING:  # torch is imported by the functions that need it, so ``--help`` stays fast
    import torch
    from torch import nn

#: How many built-in photos are drawn when no image is given.
DEFAULT_NUM_IMAGES = 4


def image_size_of(model: nn.Module) -> tuple[int, int]:
    """Input ``(H, W)`` in pixels of a model holding a timm ViT."""
    from colormae.viz.attention import find_vit

    size = find_vit(model).patch_embed.img_size
    return (int(size[0]), int(size[1])) if isinstance(size, (tuple, list)) else (int(size), int(size))


#: File endings read as images when IMAGES names a folder (also 16-bit / multi-band TIFF and .npy).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".npy")


def expand_image_paths(paths: Sequence[str | Path], limit: int) -> list[Path]:
    """Image files of ``paths``: a folder gives its first ``limit`` images (sorted, searched recursively)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
            if not found:
                raise UserError(f"{p}: no images found (looked for {', '.join(IMAGE_SUFFIXES)})")
            files += found[:limit]
        else:
            files.append(p)
    return files


def load_images(paths: Sequence[str | Path], img_size: int | tuple[int, int], *,
                num_builtin: int = DEFAULT_NUM_IMAGES, norm=None) -> torch.Tensor:
    """Images as a normalised batch ``(N, C, H, W)``: ``norm`` (a
    :class:`~colormae.data.normalization.Normalization`, default ImageNet RGB) gives ``C`` and the
    statistics (use the checkpoint's).

    ``paths`` are image files (any format :mod:`colormae.data.readers` reads: 8/16-bit PNG, multi-band
    TIFF, ``.npy``) or folders (each gives its first ``num_builtin`` images); when empty, ``num_builtin``
    built-in photos are used instead (RGB, so only for 1- or 3-channel models).
    """
    import torch

    from colormae.data import eval_transform, sample_images
    from colormae.data.readers import UnreadableImage, read_image

    channels = norm.channels if norm is not None else 3
    if not paths:
        if channels not in (1, 3):
            raise UserError(f"the model takes {channels} channels: give image files or a folder of them "
                            "(the built-in photos are RGB)")
        return sample_images("photos", num_builtin, img_size, norm)
    transform = eval_transform(img_size, norm)
    batch = []
    for p in expand_image_paths(paths, num_builtin):
        if not p.is_file():
            raise UserError(f"{p}: no such image file or folder")
        try:
            batch.append(transform(read_image(p)))
        except UnreadableImage as err:
            raise UserError(f"{p}: not a readable image ({err})") from None
        except ValueError as err:  # a channel count the model cannot take
            raise UserError(f"{p}: {err}") from None
    return torch.stack(batch)


def run_label(path: str | Path) -> str:
    """A short name for a checkpoint: its run directory's name (``run/checkpoints/step-*.pt`` -> ``run``)."""
    p = Path(path).resolve()
    if p.is_file():
        p = p.parent.parent if p.parent.name == "checkpoints" else p.parent
    return p.name


def load_models(paths: Sequence[str | Path], device: str | torch.device = "cpu") -> dict[str, nn.Module]:
    """``{label: model}`` of several checkpoints, labelled by run name (``#2``, ... added to repeats)."""
    from colormae.loading import load

    models: dict[str, nn.Module] = {}
    for path in paths:
        label = run_label(path) or str(path)
        unique, n = label, 1
        while unique in models:
            n += 1
            unique = f"{label} #{n}"
        models[unique] = load(path, map_location=device).model
    return models
