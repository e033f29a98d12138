"""``MAEConfig``: the shape of a masked autoencoder, checked when it is made."""

from __future__ import annotations

from dataclasses import dataclass

from colormae.errors import UserError


@dataclass
class MAEConfig:
    """Encoder (a timm ViT) and decoder sizes of a :class:`~colormae.models.mae.MaskedAutoencoder`.

    Defaults are ViT-B/16 at 224 px with the paper's decoder (8 blocks x 512 wide, 16 heads) and the
    normalized-pixel loss, as in ColorMAE (ECCV 2024, Sec. 4 / supplementary) and MAE.
    ``img_size`` may be an int (square) or ``(H, W)``. ``layer_norm_eps`` is the epsilon of every
    LayerNorm of the encoder and decoder: 1e-6 as in MAE / timm; Hugging Face ViTMAE checkpoints carry
    their own (``facebook/vit-mae-base``: 1e-12), kept on import so the model computes what they computed.
    """

    img_size: int | tuple[int, int] = 224
    patch_size: int = 16
    in_chans: int = 3
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    decoder_embed_dim: int = 512
    decoder_depth: int = 8
    decoder_num_heads: int = 16
    norm_pix_loss: bool = True
    layer_norm_eps: float = 1e-6

    def __post_init__(self) -> None:
        if isinstance(self.img_size, list):  # from YAML / JSON
            self.img_size = tuple(self.img_size)
        for name in ("patch_size", "in_chans", "embed_dim", "depth", "num_heads",
                     "decoder_embed_dim", "decoder_depth", "decoder_num_heads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"model config: {name} must be a positive integer, got {value!r}")
        if not isinstance(self.mlp_ratio, int | float) or self.mlp_ratio <= 0:
            raise UserError(f"model config: mlp_ratio must be a positive number, got {self.mlp_ratio!r}")
        eps = self.layer_norm_eps
        if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0 < eps < 1:
            raise UserError(f"model config: layer_norm_eps must be a number in (0, 1), got {eps!r}")
        for side in self.image_hw:
            if isinstance(side, bool) or not isinstance(side, int) or side < 1:
                raise UserError(
                    f"model config: img_size must be a positive integer or (H, W), got {self.img_size!r}"
                )
            if side % self.patch_size:
                raise UserError(
                    f"model config: img_size {self.img_size} is not divisible by patch_size {self.patch_size}"
                )
        if self.embed_dim % self.num_heads:
            raise UserError(
                f"model config: embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}"
            )
        if self.decoder_embed_dim % self.decoder_num_heads:
            raise UserError(
                f"model config: decoder_embed_dim {self.decoder_embed_dim} is not divisible by "
                f"decoder_num_heads {self.decoder_num_heads}"
            )
        # The 2-D sin-cos position embedding splits the width in four (sin/cos x row/column).
        for name in ("embed_dim", "decoder_embed_dim"):
            if getattr(self, name) % 4:
                raise UserError(f"model config: {name} must be divisible by 4, got {getattr(self, name)}")

    @property
    def image_hw(self) -> tuple[int, int]:
        """``(H, W)`` of the input images."""
        if isinstance(self.img_size, tuple):
            if len(self.img_size) != 2:
                raise UserError(f"model config: img_size must be an int or (H, W), got {self.img_size!r}")
            return self.img_size
        return (self.img_size, self.img_size)

    @property
    def grid(self) -> tuple[int, int]:
        """Patch grid ``(grid_h, grid_w)``."""
        h, w = self.image_hw
        return (h // self.patch_size, w // self.patch_size)

    @property
    def num_patches(self) -> int:
        """``L``, the number of patch tokens."""
        gh, gw = self.grid
        return gh * gw
