"""An RGB MAE mapped to other band counts (colormae.models.channels via colormae.loading.adapt_channels):
what each rule preserves exactly, and one-line errors."""

from __future__ import annotations

import pytest
import torch

from colormae.errors import UserError
from colormae.loading import Loaded, adapt_channels
from colormae.models import create_mae, unpatchify
from colormae.models.channels import map_input_filters, resolve_mapping


def _loaded() -> Loaded:
    torch.manual_seed(0)
    model = create_mae("mae_vit_micro_32px").eval()
    return Loaded("pretrain", model, model.config, "colormae", "rgb.pt")


def _copy(loaded: Loaded) -> Loaded:
    import copy

    return Loaded(loaded.kind, copy.deepcopy(loaded.model), loaded.config, loaded.source_format, loaded.name)


def test_mean_rule_embeds_equal_bands_as_the_rgb_model_embeds_grey(gen):
    rgb = _loaded()
    four = adapt_channels(_copy(rgb), 4, "mean")
    assert four.in_chans == 4 and four.model.encoder.patch_embed.proj.weight.shape[1] == 4
    assert four.channel_map.startswith("patch embedding mapped from 3 to 4 channels")
    grey = torch.rand(2, 1, 32, 32, generator=gen)
    with torch.no_grad():
        ours = four.model.forward_features(grey.expand(-1, 4, -1, -1))
        ref = rgb.model.forward_features(grey.expand(-1, 3, -1, -1))
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    # 1 channel: the filters summed (timm's adapt_input_conv does the same for one channel)
    w = rgb.model.encoder.patch_embed.proj.weight
    torch.testing.assert_close(map_input_filters(w, 1), w.sum(1, keepdim=True))


@pytest.mark.parametrize(("mode", "names"), [("names", ["nir", "Red", "green", "blue"]),
                                             ("B4:R,B3:G,B2:B", ["B8", "B4", "B3", "B2"]),
                                             ("auto", ["nir", "r", "g", "b"])])
def test_named_bands_compute_exactly_what_the_rgb_model_computed(gen, mode, names):
    rgb = _loaded()
    four = adapt_channels(_copy(rgb), 4, mode, band_names=names)
    assert "<-0" in four.channel_map and "<-R" in four.channel_map  # the unnamed band starts at zero
    images = torch.rand(2, 3, 32, 32, generator=gen)
    extra = torch.rand(2, 1, 32, 32, generator=gen)
    mask = torch.zeros(2, rgb.model.num_patches, dtype=torch.bool)
    mask[:, 1::3] = True
    with torch.no_grad():
        ours = four.model(torch.cat([extra, images], 1), mask)
        ref = rgb.model(images, mask)
    torch.testing.assert_close(ours.latent, ref.latent, rtol=1e-6, atol=1e-6)
    # the pixel head: the named bands predict their channel, the unnamed one the channels' mean
    p, grid = rgb.config.patch_size, rgb.model.grid
    ours_px, ref_px = unpatchify(ours.pred, p, grid, 4), unpatchify(ref.pred, p, grid, 3)
    torch.testing.assert_close(ours_px[:, 1:], ref_px, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(ours_px[:, 0], ref_px.mean(1), rtol=1e-5, atol=1e-6)


def test_mapping_mistakes_are_one_line():
    with pytest.raises(UserError, match="no band of the data is named red, green or blue"):
        resolve_mapping("names", 2, 3, ["nir", "swir"])
    with pytest.raises(UserError, match="'B9:R' is not BAND:CHANNEL with a band of B8, B4"):
        resolve_mapping("B9:R", 2, 3, ["B8", "B4"])
    with pytest.raises(UserError, match="'X' is not an RGB channel"):
        resolve_mapping("B8:X", 2, 3, ["B8", "B4"])
    with pytest.raises(UserError, match="stats file names no bands"):
        resolve_mapping("B8:R", 2, 3, None)
    with pytest.raises(UserError, match="the checkpoint has 1 channel"):
        resolve_mapping("names", 2, 1, ["red", "nir"])
    with pytest.raises(UserError, match="choose mean, names, auto"):
        resolve_mapping("average", 2, 3)
    assert resolve_mapping("auto", 2, 3, ["nir", "swir"])[0] is None  # auto: mean when no band is named
