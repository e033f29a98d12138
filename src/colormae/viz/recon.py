"""MAE reconstructions: original | masked | reconstruction | reconstruction with visible patches pasted
(supplement Fig. 3), one block of rows per masking strategy.

With ``norm_pix_loss`` the model predicts each patch normalised by its own mean and variance, so the
prediction is meaningless as pixels until it is mapped back with the statistics of the *same patch of the
original image* (a common mistake is to show the normalised prediction, or to use image-wide statistics).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from colormae.errors import UserError
from colormae.models.mae import NORM_PIX_EPS
from colormae.viz.style import image_grid, save_figure

#: Percentiles of the display stretch for data not normalised with ImageNet statistics.
STRETCH = (2.0, 98.0)

#: The maskings of supplement Fig. 3.
FIG3_MASKINGS = ("random", "blue", "green", "purple", "red")


@dataclass
class Reconstruction:
    """Images in the model's (normalised) input space, all (B, C, H, W).

    ``mask`` is (B, 1, H, W), 1 where the patch is masked.
    """

    original: torch.Tensor
    masked: torch.Tensor
    recon: torch.Tensor
    pasted: torch.Tensor
    mask: torch.Tensor


def pixels_from_prediction(model, images: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """Map predictions back to (normalised-input) pixel patches.

    images: (B, C, H, W); pred: (B, L, p*p*C) -> (B, L, p*p*C). With ``model.config.norm_pix_loss`` each
    predicted patch is scaled by its own original patch's std and shifted by its mean (unbiased variance
    plus :data:`NORM_PIX_EPS`, the inverse of the target normalisation); otherwise returned as is.
    """
    if not model.config.norm_pix_loss:
        return pred
    patches = model.patchify(images.float())
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True)
    return pred * (var + NORM_PIX_EPS).sqrt() + mean


def mask_image(model, mask: torch.Tensor) -> torch.Tensor:
    """Per-pixel mask: mask bool (B, L) -> (B, 1, H, W) float, 1 where the patch is masked."""
    p = model.config.patch_size
    flat = mask.float().unsqueeze(-1).expand(-1, -1, p * p * model.config.in_chans)
    return model.unpatchify(flat)[:, :1]


@torch.no_grad()
def reconstruct(model, images: torch.Tensor, mask: torch.Tensor) -> Reconstruction:
    """Run the MAE on ``images`` (B, C, H, W) with ``mask`` bool (B, L) and build the display images."""
    device = next(model.parameters()).device
    images = images.to(device)
    mask = mask.to(device)
    out = model(images, mask)
    recon = model.unpatchify(pixels_from_prediction(model, images, out.pred.float()))
    m = mask_image(model, mask)
    return Reconstruction(original=images, masked=images * (1 - m), recon=recon,
                          pasted=images * (1 - m) + recon * m, mask=m)


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


def reconstruction_figure(model, images: torch.Tensor, maskings: Mapping[str, object], out_path: str | Path,
                          *, seed: int = 0, norm=None, bands: tuple[int, ...] | None = None) -> Path:
    """Draw the reconstruction rows of ``images`` (N, C, H, W, normalised with ``norm``, default ImageNet)
    for each masking.

    ``maskings`` maps a display name to a strategy ``(batch, grid, generator=, device=) -> bool (B, L)``;
    each strategy draws its masks from a CPU generator seeded with ``seed`` so figures are repeatable.
    The figure has ``len(maskings) * N * V`` rows of 4 panels (``V`` views per image: 1, or one per
    band when the images have neither 1 nor 3 channels and no ``bands`` are chosen; see
    :func:`display_views` and ``style.grid_pixels``); masked patches are shown at the normalisation
    mean. Returns ``out_path``.
    """
    model.eval()
    n = images.shape[0]
    labels = display_views([images[:1]], norm, bands)[0]
    v = len(labels)
    fig, axes = image_grid(len(maskings) * n * v, 4)
    titles = ("original", "masked", "reconstruction", "recon. + visible")
    for b, (name, strategy) in enumerate(maskings.items()):
        gen = torch.Generator().manual_seed(seed)
        mask = strategy(n, model.grid, generator=gen, device="cpu")
        rec = reconstruct(model, images, mask)
        _, panels = display_views([rec.original, rec.masked, rec.recon, rec.pasted], norm, bands)
        for i in range(n):
            for k in range(v):
                row = axes[(b * n + i) * v + k]
                for j, ax in enumerate(row):
                    ax.imshow(panels[j][k, i], interpolation="nearest")
                    if i == 0 and k == 0:
                        ax.set_title(f"{titles[j]}" if j != 1 else f"masked ({name})", fontsize=8)
                row[0].set_ylabel(f"{name} {labels[k]}".strip(), fontsize=9)
    return save_figure(fig, out_path)
