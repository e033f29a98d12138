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


#: File endings read as images when IMAGES names a folder.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


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
                num_builtin: int = DEFAULT_NUM_IMAGES) -> torch.Tensor:
    """Images as a normalised batch ``(N, 3, H, W)``.

    ``paths`` are image files or folders (each gives its first ``num_builtin`` images); when empty,
    ``num_builtin`` built-in photos are used instead.
    """
    import torch

    from colormae import data

    if not paths:
        return data.sample_images("photos", num_builtin, img_size)
    from PIL import Image, UnidentifiedImageError

    transform = data.eval_transform(img_size)
    batch = []
    for p in expand_image_paths(paths, num_builtin):
        try:
            with Image.open(p) as im:
                batch.append(transform(im.convert("RGB")))
        except FileNotFoundError:
            raise UserError(f"{p}: no such image file or folder") from None
        except (UnidentifiedImageError, OSError) as err:
            raise UserError(f"{p}: not a readable image ({err})") from None
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
