"""MAE reconstructions: original | masked | reconstruction | reconstruction with visible patches pasted
(supplement Fig. 3), one block of rows per masking strategy.

With ``norm_pix_loss`` the model predicts each patch normalised by its own mean and variance, so the
prediction is meaningless as pixels until it is mapped back with a mean and variance
(:func:`colormae.models.recon.unnormalize_prediction`). ``stats="visible"`` (default) estimates them for a
masked patch from the visible patches around it, so the figure shows only what the model predicts;
``stats="true"`` uses each masked patch's own statistics, which hands the figure the patch's brightness
and contrast (the flattering figures of most MAE papers). The figure names the mode in its titles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from colormae.models.recon import unnormalize_prediction
from colormae.viz.display import display_views
from colormae.viz.style import image_grid, save_figure

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


def pixels_from_prediction(model, images: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor,
                           stats: str = "visible") -> torch.Tensor:
    """Map predictions back to (normalised-input) pixel patches.

    images: (B, C, H, W); pred: (B, L, p*p*C); mask: bool (B, L) -> (B, L, p*p*C). With
    ``model.config.norm_pix_loss`` the inverse of the target normalisation with ``stats`` (``visible`` |
    ``true``, :func:`colormae.models.recon.unnormalize_prediction`); otherwise returned as is.
    """
    if not model.config.norm_pix_loss:
        return pred
    return unnormalize_prediction(pred, model.patchify(images.float()), mask, model.grid, stats=stats)


def mask_image(model, mask: torch.Tensor) -> torch.Tensor:
    """Per-pixel mask: mask bool (B, L) -> (B, 1, H, W) float, 1 where the patch is masked."""
    p = model.config.patch_size
    flat = mask.float().unsqueeze(-1).expand(-1, -1, p * p * model.config.in_chans)
    return model.unpatchify(flat)[:, :1]


@torch.no_grad()
def reconstruct(model, images: torch.Tensor, mask: torch.Tensor, stats: str = "visible") -> Reconstruction:
    """Run the MAE on ``images`` (B, C, H, W) with ``mask`` bool (B, L) and build the display images
    (norm-pix predictions un-normalised with ``stats``: :func:`pixels_from_prediction`)."""
    device = next(model.parameters()).device
    images = images.to(device)
    mask = mask.to(device)
    out = model(images, mask)
    recon = model.unpatchify(pixels_from_prediction(model, images, out.pred.float(), mask, stats))
    m = mask_image(model, mask)
    return Reconstruction(original=images, masked=images * (1 - m), recon=recon,
                          pasted=images * (1 - m) + recon * m, mask=m)


def reconstruction_figure(model, images: torch.Tensor, maskings: Mapping[str, object], out_path: str | Path,
                          *, seed: int = 0, norm=None, bands: tuple[int, ...] | None = None,
                          stats: str = "visible") -> Path:
    """Draw the reconstruction rows of ``images`` (N, C, H, W, normalised with ``norm``, default ImageNet)
    for each masking.

    ``maskings`` maps a display name to a strategy ``(batch, grid, generator=, device=) -> bool (B, L)``;
    each strategy draws its masks from a CPU generator seeded with ``seed`` so figures are repeatable.
    The figure has ``len(maskings) * N * V`` rows of 4 panels (``V`` views per image: 1, or one per
    band when the images have neither 1 nor 3 channels and no ``bands`` are chosen; see
    :func:`display_views` and ``style.grid_pixels``); masked patches are shown at the normalisation
    mean. Norm-pix predictions are un-normalised with ``stats`` (:func:`pixels_from_prediction`), named
    in the reconstruction columns' titles. Returns ``out_path``.
    """
    model.eval()
    n = images.shape[0]
    labels = display_views([images[:1]], norm, bands)[0]
    v = len(labels)
    fig, axes = image_grid(len(maskings) * n * v, 4)
    tag = f" ({stats} stats)" if model.config.norm_pix_loss else ""
    titles = ("original", "masked", f"reconstruction{tag}", f"recon. + visible{tag}")
    for b, (name, strategy) in enumerate(maskings.items()):
        gen = torch.Generator().manual_seed(seed)
        mask = strategy(n, model.grid, generator=gen, device="cpu")
        rec = reconstruct(model, images, mask, stats)
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
