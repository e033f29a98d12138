"""Last-layer [CLS] self-attention maps, averaged over heads (supplement Fig. 4), taken with hooks.

timm's ``Attention`` calls ``F.scaled_dot_product_attention`` (the fused path), which never materialises
the attention weights, so there is nothing to hook on the output side. Instead a forward hook on the
``attn`` module reads its input tokens and :func:`attention_probs` recomputes ``softmax(q k^T * scale)``
with the module's own ``qkv`` projection and ``q_norm`` / ``k_norm`` — the model is never edited and
its forward stays fused.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Attention, VisionTransformer
from torch import Tensor, nn

from colormae.viz.style import overlay_figure


def find_vit(model: nn.Module) -> VisionTransformer:
    """The timm ``VisionTransformer`` inside ``model`` (an MAE's ``.encoder``, a classifier's backbone)."""
    for module in model.modules():
        if isinstance(module, VisionTransformer):
            return module
    raise TypeError(f"{type(model).__name__} holds no timm VisionTransformer")


def attention_probs(attn: Attention, x: Tensor) -> Tensor:
    """Attention weights of a timm ``Attention`` for its input ``x: (B, N, D)`` -> ``(B, heads, N, N)``.

    Exactly timm's non-fused path (``q * scale @ k^T``, softmax over keys); see the module docstring
    for why it is recomputed rather than read off the module.
    """
    b, n, _ = x.shape
    qkv = attn.qkv(x).reshape(b, n, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    q, k, _ = qkv.unbind(0)
    q, k = attn.q_norm(q), attn.k_norm(k)
    return ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)


@torch.no_grad()
def last_layer_attention(model: nn.Module, images: Tensor) -> Tensor:
    """Attention of the ViT's last block: ``images (B, C, H, W)`` -> ``(B, heads, N, N)``, N = prefix + L.

    Runs the ViT's ``forward_features`` (all patches, no masking) with a temporary forward hook.
    """
    vit = find_vit(model)
    captured: list[Tensor] = []

    def hook(module: nn.Module, args: tuple, output: Tensor) -> None:
        captured.append(attention_probs(module, args[0]))

    handle = vit.blocks[-1].attn.register_forward_hook(hook)
    was_training = vit.training
    try:
        vit.eval()
        device = next(vit.parameters()).device
        vit.forward_features(images.to(device))
    finally:
        handle.remove()
        vit.train(was_training)
    return captured[-1]


def cls_attention_maps(model: nn.Module, images: Tensor) -> Tensor:
    """Head-averaged attention of [CLS] to each patch: ``images (B, C, H, W)`` -> ``(B, grid_h, grid_w)``."""
    vit = find_vit(model)
    probs = last_layer_attention(model, images)  # (B, heads, N, N)
    cls_to_patches = probs[:, :, 0, vit.num_prefix_tokens:].mean(dim=1)  # (B, L)
    gh, gw = vit.patch_embed.grid_size
    return cls_to_patches.reshape(-1, gh, gw)


def attention_figure(models: nn.Module | Mapping[str, nn.Module], images: Tensor,
                     out_path: str | Path, *, norm=None, bands: tuple[int, ...] | None = None) -> Path:
    """Draw [CLS] attention overlays of ``images`` (N, C, H, W, normalised with ``norm``: default ImageNet;
    ``bands`` chooses what is shown of multi-band images).

    ``models`` is one model or a ``{name: model}`` mapping (e.g. MAE vs ColorMAE-G, as Fig. 4). The figure
    has one column per image and ``1 + len(models)`` rows: the images, then each model's head-averaged
    map, bilinearly upsampled to the image and overlaid. Returns ``out_path``.
    """
    def upsampled(model: nn.Module, batch: Tensor):
        maps = cls_attention_maps(model, batch).float().cpu()[:, None]
        return F.interpolate(maps, size=batch.shape[-2:], mode="bilinear", align_corners=False)[:, 0].numpy()

    return overlay_figure(models, images, out_path, upsampled, "[CLS] attention", norm=norm, bands=bands)
