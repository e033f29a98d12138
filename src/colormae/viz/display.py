"""Showing normalised images of any channel count: un-normalise with the data's statistics, pick bands.

Shared by every figure: reconstructions, attention and EigenCAM overlays.
"""

from __future__ import annotations

import numpy as np
import torch

from colormae.errors import UserError

#: Percentiles of the display stretch for data not normalised with ImageNet statistics.
STRETCH = (2.0, 98.0)


def parse_bands(text: str | None) -> tuple[int, ...] | None:
    """``"3,2,1"`` -> ``(3, 2, 1)`` (1-based band numbers); empty -> ``None``; one or three bands."""
    if text is None or not str(text).strip():
        return None
    try:
        bands = tuple(int(b) for b in str(text).replace(" ", "").split(","))
    except ValueError:
        raise UserError(f"--bands {text!r}: expected 1-based band numbers such as 3,2,1") from None
    if len(bands) not in (1, 3):
        raise UserError(f"--bands {text!r}: give three bands (an RGB composite) or one (grey)")
    return bands


def display_views(images: list[torch.Tensor], norm=None, bands: tuple[int, ...] | None = None
                  ) -> tuple[list[str], list[np.ndarray]]:
    """Display images of several panels of the same images.

    Args:
        images: panels, each ``(N, C, H, W)`` normalised with ``norm``; the first is the original (it
            sets the display stretch).
        norm: their :class:`~colormae.data.normalization.Normalization` (``None``: ImageNet RGB).
        bands: 1-based band numbers (one or three), or ``None`` (RGB, grey, or every band as grey).

    Returns:
        ``(labels, views)``: one label per view (``""`` or ``"band k"``) and, for each panel, an array
        ``(V, N, H, W, 3)`` in [0, 1].
    """
    from colormae.data.normalization import imagenet

    c = images[0].shape[1]
    norm = norm if norm is not None else imagenet(c if c in (1, 3) else 3)
    if norm.channels != c:
        raise UserError(f"the images have {c} channels but the normalisation {norm.channels}")
    mean = torch.tensor(norm.mean).view(1, -1, 1, 1)
    std = torch.tensor(norm.std).view(1, -1, 1, 1)
    pixels = [t.detach().float().cpu() * std + mean for t in images]
    if bands is not None:
        bad = [b for b in bands if not 1 <= b <= c]
        if bad:
            raise UserError(f"band {bad[0]} does not exist: the images have {c} band(s) (numbered from 1)")
        views = [[b - 1 for b in bands]]
        labels = [f"bands {','.join(map(str, bands))}"]
    elif c in (1, 3):
        views, labels = [list(range(c))], [""]
    else:
        views, labels = [[k] for k in range(c)], [f"band {k + 1}" for k in range(c)]
    if norm.normalize == "imagenet":
        lo, hi = torch.zeros(c), torch.ones(c)
    else:  # percentile stretch per band over the originals
        flat = pixels[0].transpose(0, 1).reshape(c, -1)
        lo = torch.quantile(flat, STRETCH[0] / 100, dim=1)
        hi = torch.quantile(flat, STRETCH[1] / 100, dim=1)
        hi = torch.where(hi > lo, hi, lo + 1.0)
    out = []
    for px in pixels:
        scaled = ((px - lo.view(1, -1, 1, 1)) / (hi - lo).view(1, -1, 1, 1)).clamp(0, 1)
        per_view = []
        for chans in views:
            v = scaled[:, chans]
            v = v.expand(-1, 3, -1, -1) if v.shape[1] == 1 else v
            per_view.append(v.permute(0, 2, 3, 1).numpy())
        out.append(np.stack(per_view))
    return labels, out


def display_images(images: torch.Tensor, norm=None, bands: tuple[int, ...] | None = None) -> np.ndarray:
    """One picture per image for overlays: ``(N, H, W, 3)`` in [0, 1] (RGB, grey, the chosen bands, or
    the first band in grey for other channel counts)."""
    return display_views([images], norm, bands)[1][0][0]
