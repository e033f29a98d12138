"""A model for another image size: the same weights, position tables resampled
(:func:`colormae.models.pos_embed.resample_pos_embed`)."""

from __future__ import annotations

import dataclasses

from timm.models.vision_transformer import VisionTransformer

from colormae.models.mae import MaskedAutoencoder
from colormae.models.pos_embed import resample_pos_embed, resize_pos_embeds


def resize_mae(model: MaskedAutoencoder, img_size: int | tuple[int, int], *, method: str = "auto"
               ) -> MaskedAutoencoder:
    """The same :class:`~colormae.models.MaskedAutoencoder` for images of ``img_size`` (``(H, W)``): a new
    model of that size holding ``model``'s weights, its position tables resampled with
    :func:`resample_pos_embed`. Returns ``model`` itself when the size is unchanged."""
    hw = (img_size, img_size) if isinstance(img_size, int) else (int(img_size[0]), int(img_size[1]))
    if hw == tuple(model.config.image_hw):
        return model
    config = dataclasses.replace(model.config, img_size=hw)
    param = next(model.parameters())
    resized = MaskedAutoencoder(config).to(device=param.device, dtype=param.dtype)
    state = resize_pos_embeds(model.state_dict(), model.config.grid, config.grid, method=method)
    resized.load_state_dict(state)
    return resized.train(model.training)


def resize_vit(vit: VisionTransformer, img_size: int | tuple[int, int], *, method: str = "auto"
               ) -> VisionTransformer:
    """A timm ``VisionTransformer`` (e.g. a fine-tuned classifier) for ``img_size`` ``(H, W)``, in place:
    ``set_input_size`` then the old table resampled with :func:`resample_pos_embed`. Returns ``vit``."""
    hw = (img_size, img_size) if isinstance(img_size, int) else (int(img_size[0]), int(img_size[1]))
    old_grid = tuple(vit.patch_embed.grid_size)
    old = vit.pos_embed.detach().clone()
    vit.set_input_size(img_size=hw)
    new_grid = tuple(vit.patch_embed.grid_size)
    if new_grid != old_grid:
        table = resample_pos_embed(old, old_grid, new_grid, num_prefix_tokens=vit.num_prefix_tokens,
                                   method=method)
        vit.pos_embed.data = table.to(vit.pos_embed.dtype)
    return vit
