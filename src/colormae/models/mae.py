"""The masked autoencoder: a timm ViT encoder that sees only the visible patches, and a light decoder.

Follows MAE (He et al., CVPR 2022) as ColorMAE uses it: fixed 2-D sin-cos position embeddings,
normalized-pixel MSE on the masked patches only. Parameter names follow facebookresearch/mae for the
decoder (``decoder_embed``, ``mask_token``, ``decoder_pos_embed``, ``decoder_blocks``, ``decoder_norm``,
``decoder_pred``) and timm for the encoder, so ``model.encoder.state_dict()`` is a plain timm ViT state
dict and a facebookresearch/mae checkpoint converts by prefixing its encoder keys with ``encoder.``.

The mask is an input (``docs/architecture.md``): ``bool (B, L)``, True = masked, row-major over the grid.
Pass its visible patch indices too (``model(images, mask, ids_keep)``, as the masking strategies'
``draw`` gives them) and the forward pass has no host-device sync and no ``torch.compile`` graph break;
without them the model finds them from the mask (one sync). Activation checkpointing goes through
timm's own switch: :meth:`MaskedAutoencoder.set_grad_checkpointing` (encoder and decoder blocks).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from timm.models import checkpoint_seq
from timm.models.vision_transformer import Block
from torch import Tensor, nn

import colormae.models.ids as mask_ids
from colormae.models.config import MAEConfig
from colormae.models.patchify import patchify, unpatchify
from colormae.models.pos_embed import sincos_2d
from colormae.models.vit import build_vit, use_fused_attention

#: Added to the per-patch variance of the normalized-pixel target (MAE).
NORM_PIX_EPS = 1e-6


@dataclass
class MAEOutput:
    """What :meth:`MaskedAutoencoder.forward` returns.

    Attributes:
        loss: scalar, mean per-patch MSE over the masked patches.
        pred: ``(B, L, p*p*C)`` predicted (normalized, if ``norm_pix_loss``) pixels of every patch.
        mask: ``bool (B, L)``, the input mask (True = masked).
        latent: ``(B, 1+K, D)`` encoder output: [CLS] then the ``K`` visible tokens.
    """

    loss: Tensor
    pred: Tensor
    mask: Tensor
    latent: Tensor


class MaskedAutoencoder(nn.Module):
    """MAE with a timm ``VisionTransformer`` encoder; see the module docstring.

    Args:
        config: model sizes; see :class:`MAEConfig`.
    """

    def __init__(self, config: MAEConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        norm_layer = partial(nn.LayerNorm, eps=c.layer_norm_eps)
        self.encoder = build_vit(c, num_classes=0, global_pool="token", class_token=True,
                                 weight_init="skip")  # re-initialised below the MAE way
        pos = sincos_2d(c.embed_dim, c.grid, cls_token=True)[None]
        self.encoder.pos_embed = nn.Parameter(pos, requires_grad=False)

        self.decoder_embed = nn.Linear(c.embed_dim, c.decoder_embed_dim, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, c.decoder_embed_dim))
        dec_pos = sincos_2d(c.decoder_embed_dim, c.grid, cls_token=True)[None]
        self.decoder_pos_embed = nn.Parameter(dec_pos, requires_grad=False)
        self.grad_checkpointing = False
        self.decoder_blocks = nn.ModuleList(
            Block(c.decoder_embed_dim, c.decoder_num_heads, c.mlp_ratio, qkv_bias=True, norm_layer=norm_layer)
            for _ in range(c.decoder_depth)
        )
        self.decoder_norm = norm_layer(c.decoder_embed_dim)
        self.decoder_pred = nn.Linear(c.decoder_embed_dim, c.patch_size**2 * c.in_chans, bias=True)

        use_fused_attention(self)
        self.initialize_weights()

    # ----------------------------------------------------------------------------------------------- init
    def initialize_weights(self) -> None:
        """MAE initialisation: xavier-uniform Linear (bias 0), LayerNorm (1, 0), patch projection
        xavier-uniform on its ``(out, -1)`` view, [CLS] and mask tokens normal with std 0.02."""
        self.apply(self._init_module)
        proj = self.encoder.patch_embed.proj.weight
        nn.init.xavier_uniform_(proj.data.view(proj.shape[0], -1))
        if self.encoder.patch_embed.proj.bias is not None:
            nn.init.zeros_(self.encoder.patch_embed.proj.bias)
        nn.init.normal_(self.encoder.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)

    @staticmethod
    def _init_module(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def no_weight_decay(self) -> set[str]:
        """Names of the token and position-embedding parameters (no weight decay in MAE)."""
        return {"encoder.cls_token", "encoder.pos_embed", "mask_token", "decoder_pos_embed"}

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Activation checkpointing of every encoder and decoder block while training (timm's
        ``set_grad_checkpointing`` on the encoder, ``checkpoint_seq`` for both): recompute block
        activations in the backward pass instead of storing them. Same loss and gradients, less memory."""
        self.encoder.set_grad_checkpointing(enable)
        self.grad_checkpointing = enable

    def _run_blocks(self, blocks: nn.Module, x: Tensor, checkpointed: bool) -> Tensor:
        if checkpointed and torch.is_grad_enabled():
            return checkpoint_seq(blocks, x)
        for block in blocks:
            x = block(x)
        return x

    # ------------------------------------------------------------------------------------------- shapes
    @property
    def grid(self) -> tuple[int, int]:
        """Patch grid ``(grid_h, grid_w)``."""
        return self.config.grid

    @property
    def num_patches(self) -> int:
        """``L``, the number of patch tokens."""
        return self.config.num_patches

    def patchify(self, images: Tensor) -> Tensor:
        """``images: (B, C, H, W)`` -> ``(B, L, p*p*C)``."""
        return patchify(images, self.config.patch_size)

    def unpatchify(self, x: Tensor) -> Tensor:
        """``x: (B, L, p*p*C)`` -> ``images: (B, C, H, W)``."""
        return unpatchify(x, self.config.patch_size, self.grid, self.config.in_chans)

    def target(self, images: Tensor) -> Tensor:
        """Reconstruction target ``(B, L, p*p*C)`` in float32: the patches, normalized per patch to zero
        mean and unit (unbiased) variance when ``norm_pix_loss`` (MAE; variance + 1e-6)."""
        target = self.patchify(images.float())
        if self.config.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + NORM_PIX_EPS) ** 0.5
        return target

    def _check_mask(self, images: Tensor, mask: Tensor) -> None:
        expected = (images.shape[0], self.num_patches)
        if mask.dtype != torch.bool or tuple(mask.shape) != expected:
            raise ValueError(f"mask must be bool {expected}, got {mask.dtype} {tuple(mask.shape)}")

    def _resolve_ids(self, mask: Tensor, ids_keep: Tensor | None) -> Tensor:
        """``ids_keep (B, K)`` as given (checked only under :data:`colormae.models.ids.CHECK_MASKS`), or
        found from the mask (a host-device sync)."""
        if ids_keep is None:
            return mask_ids.mask_to_ids(mask)[0]
        if ids_keep.dim() != 2 or ids_keep.shape[0] != mask.shape[0]:
            raise ValueError(f"ids_keep must be (B, K) with B = {mask.shape[0]}, got {tuple(ids_keep.shape)}")
        if mask_ids.CHECK_MASKS:
            mask_ids.check_ids(mask, ids_keep)
        return ids_keep

    # ------------------------------------------------------------------------------------------ encoder
    def _encode(self, images: Tensor, mask: Tensor, ids_keep: Tensor | None) -> tuple[Tensor, Tensor]:
        """Encoder on the visible patches; returns ``latent (B, 1+K, D)`` and ``ids_keep (B, K)``."""
        self._check_mask(images, mask)
        enc = self.encoder
        ids_keep = self._resolve_ids(mask, ids_keep)
        x = self._embed_visible(images, ids_keep)  # (B, K, D)
        cls = (enc.cls_token + enc.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        x = enc.norm_pre(x)
        x = self._run_blocks(enc.blocks, x, enc.grad_checkpointing)  # timm's switch, as in forward_features
        return enc.norm(x), ids_keep

    def _embed_visible(self, images: Tensor, ids_keep: Tensor) -> Tensor:
        """Patch embedding plus position embedding of the visible patches only: ``(B, K, D)``.

        timm's ``PatchEmbed`` is a stride-p convolution, i.e. one linear map per patch, so we gather the
        K visible patches first and project only those (a quarter of the work at 75 % masking); the
        result equals ``patch_embed(images)`` gathered at ``ids_keep`` up to float rounding.
        """
        pe, p = self.encoder.patch_embed, self.config.patch_size
        b, c, h, w = images.shape
        # (B, C, gh, p, gw, p) -> (B, L, C*p*p): the (C, p, p) layout of the convolution's weight
        patches = images.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
        patches = patches.reshape(b, -1, c * p * p)
        patches = torch.gather(patches, 1, ids_keep.unsqueeze(-1).expand(-1, -1, patches.shape[-1]))
        x = pe.norm(F.linear(patches, pe.proj.weight.flatten(1), pe.proj.bias))
        pos = self.encoder.pos_embed[:, 1:].expand(b, -1, -1)
        return x + torch.gather(pos, 1, ids_keep.unsqueeze(-1).expand(-1, -1, pos.shape[-1]))

    def forward_encoder(self, images: Tensor, mask: Tensor, ids_keep: Tensor | None = None) -> Tensor:
        """Encode only the visible patches.

        Args:
            images: ``(B, C, H, W)``.
            mask: ``bool (B, L)``, True = masked; every row masks the same number of patches.
            ids_keep: ``(B, K)`` visible patches of ``mask`` in ascending order (``Masks.ids_keep``);
                found from the mask when omitted (a host-device sync).

        Returns:
            latent ``(B, 1+K, D)``: [CLS] then the ``K`` visible tokens in ascending patch order.
        """
        return self._encode(images, mask, ids_keep)[0]

    def forward_features(self, images: Tensor) -> Tensor:
        """All tokens without masking, for evaluation: ``images (B, C, H, W)`` -> ``(B, 1+L, D)``."""
        return self.encoder.forward_features(images)

    # ------------------------------------------------------------------------------------------ decoder
    def forward_decoder(self, latent: Tensor, ids_keep: Tensor) -> Tensor:
        """Predict every patch from the visible tokens.

        Args:
            latent: ``(B, 1+K, D)`` encoder output.
            ids_keep: ``(B, K)`` patch index of each visible token.

        Returns:
            ``(B, L, p*p*C)`` predictions.
        """
        x = self.decoder_embed(latent)  # (B, 1+K, Dd)
        b, _, d = x.shape
        # Place the visible tokens at their patch positions, mask tokens everywhere else.
        full = self.mask_token.to(x.dtype).expand(b, self.num_patches, d)
        full = full.scatter(1, ids_keep.unsqueeze(-1).expand(-1, -1, d), x[:, 1:])
        x = torch.cat([x[:, :1], full], dim=1) + self.decoder_pos_embed
        x = self._run_blocks(self.decoder_blocks, x, self.grad_checkpointing)
        x = x[:, 1:]  # drop [CLS] before the per-token norm and projection (same result, less work)
        return self.decoder_pred(self.decoder_norm(x))

    def loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        """Mean over masked patches of the per-patch MSE ``((pred - target)**2).mean(-1)`` (float32)."""
        per_patch = F.mse_loss(pred.float(), self.target(images), reduction="none").mean(dim=-1)  # (B, L)
        m = mask.to(per_patch.dtype)
        return (per_patch * m).sum() / m.sum().clamp_min(1.0)

    def forward(self, images: Tensor, mask: Tensor, ids_keep: Tensor | None = None) -> MAEOutput:
        """Encode the visible patches, reconstruct all, score the masked ones.

        Args:
            images: ``(B, C, H, W)``.
            mask: ``bool (B, L)``, True = masked.
            ids_keep: ``(B, K)`` visible patches in ascending order (``strategy.draw(...).ids_keep``): no
                host-device sync; found from the mask when omitted.
        """
        latent, ids_keep = self._encode(images, mask, ids_keep)
        pred = self.forward_decoder(latent, ids_keep)
        return MAEOutput(loss=self.loss(images, pred, mask), pred=pred, mask=mask, latent=latent)
