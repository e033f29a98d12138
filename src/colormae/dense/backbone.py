"""The encoder of a pretrained MAE as a dense backbone: features of chosen blocks as ``(B, D, h, w)`` maps.

A timm ``VisionTransformer`` with the encoder's shapes, built for the crop size (its position
embeddings resampled bicubically from the pretraining grid with timm's ``resample_abs_pos_embed``) and
``dynamic_img_size`` (other input sizes resample them on the fly, e.g. whole-image inference). As in
mmseg's MAE backbone for UperNet: layer scale (init 1.0) in every block, drop path, no final norm, and
the blocks after the last one read are dropped (timm's ``prune_intermediate_layers``). The features are
timm's ``forward_intermediates`` (prefix tokens removed, NCHW).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from timm.layers import resample_abs_pos_embed
from torch import Tensor, nn

from colormae.errors import UserError
from colormae.models import MAEConfig
from colormae.models.vit import build_vit

#: The official protocol's blocks (0-based) for a 12-block ViT-B.
VIT_B_INDICES = (3, 5, 7, 11)


def default_out_indices(depth: int) -> tuple[int, ...]:
    """The protocol's blocks (3, 5, 7, 11 of 12) scaled to ``depth`` blocks, e.g. (1, 2, 3, 5) for 6."""
    return tuple(max(0, round((i + 1) * depth / 12) - 1) for i in VIT_B_INDICES)


class ViTBackbone(nn.Module):
    """``images (B, C, H, W)`` (H, W multiples of the patch size) -> 4 maps ``(B, D, H/p, W/p)``.

    Args:
        config: the pretrained encoder's shapes.
        crop: training crop ``(H, W)``; the position embeddings are stored for its grid.
        out_indices: blocks whose outputs are returned (0-based).
        drop_path: stochastic depth rate.
        layer_scale: init value of the per-block layer scale (``None``: none).
    """

    def __init__(self, config: MAEConfig, crop: tuple[int, int], out_indices: Sequence[int], *,
                 drop_path: float = 0.1, layer_scale: float | None = 1.0) -> None:
        super().__init__()
        bad = [i for i in out_indices if not 0 <= i < config.depth]
        if bad:
            raise UserError(f"out_indices {list(out_indices)}: the encoder has blocks 0..{config.depth - 1}")
        if any(side % config.patch_size for side in crop):
            raise UserError(f"crop_size {crop[0]} is not a multiple of the patch size {config.patch_size}")
        self.patch_size = config.patch_size
        self.embed_dim = config.embed_dim
        self.out_indices = tuple(out_indices)
        self.vit = build_vit(config, img_size=crop, num_classes=0, global_pool="token",
                             init_values=layer_scale, drop_path_rate=drop_path, dynamic_img_size=True,
                             weight_init="skip")
        self.vit.prune_intermediate_layers(list(self.out_indices), prune_norm=True, prune_head=True)

    def load_encoder(self, encoder: nn.Module) -> None:
        """Copy a pretrained timm encoder's weights in, resampling its position embeddings to the crop grid.

        Layer-scale gammas keep their init; blocks beyond the last out index and the final norm are not
        used; anything else missing or left over is an error.
        """
        state = {k: v for k, v in encoder.state_dict().items() if not k.startswith(("head", "norm.",
                                                                                    "fc_norm"))}
        grid = self.vit.patch_embed.grid_size
        if "pos_embed" in state and state["pos_embed"].shape[1] != 1 + grid[0] * grid[1]:
            old = int((state["pos_embed"].shape[1] - 1) ** 0.5)
            src_grid = getattr(getattr(encoder, "patch_embed", None), "grid_size", (old, old))
            # plain bicubic, align_corners=False, no antialiasing: what mmseg's MAE.resize_abs_pos_embed
            # does to the same checkpoint (timm's default, antialias=True, gives other values); inputs of
            # another size are resampled per forward by timm (dynamic_img_size), which mmseg's MAE cannot do
            state["pos_embed"] = resample_abs_pos_embed(state["pos_embed"], list(grid), list(src_grid),
                                                        num_prefix_tokens=1, antialias=False)
        kept = len(self.vit.blocks)
        state = {k: v for k, v in state.items()
                 if not (k.startswith("blocks.") and int(k.split(".")[1]) >= kept)}
        missing, unexpected = self.vit.load_state_dict(state, strict=False)
        missing = [k for k in missing if ".ls1." not in k and ".ls2." not in k]
        if missing or unexpected:
            raise UserError(f"encoder does not fit the backbone: missing {missing[:5]}, "
                            f"unexpected {unexpected[:5]}")

    def forward(self, images: Tensor) -> list[Tensor]:
        unique = sorted(set(self.out_indices))  # a shallow encoder may feed one block to several levels
        maps = self.vit.forward_intermediates(images, indices=unique, norm=False, output_fmt="NCHW",
                                              intermediates_only=True)
        return [maps[unique.index(i)] for i in self.out_indices]


def backbone_from_mae(mae: nn.Module, crop: tuple[int, int], out_indices: Sequence[int], **kwargs
                      ) -> ViTBackbone:
    """A :class:`ViTBackbone` holding ``mae.encoder``'s weights (``mae``: a MaskedAutoencoder)."""
    backbone = ViTBackbone(mae.config, crop, out_indices, **kwargs)
    with torch.no_grad():
        backbone.load_encoder(mae.encoder)
    backbone.vit.pos_embed.requires_grad_(True)  # fine-tuned (mmseg), though fixed in pretraining
    return backbone
