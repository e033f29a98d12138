"""mask_to_ids and to_hf_noise against MAE's gather/unshuffle and Hugging Face's ViTMAE."""

import pytest
import torch

from colormae.masking import ColorNoiseMasking, RandomMasking, mask_to_ids, to_hf_noise

transformers = pytest.importorskip("transformers")
from transformers import ViTMAEConfig, ViTMAEForPreTraining  # noqa: E402
from transformers.models.vit_mae.modeling_vit_mae import ViTMAEEmbeddings  # noqa: E402


def test_ids_round_trip_like_mae(gen):
    mask = ColorNoiseMasking(torch.randn(5, 9, 9, generator=gen), 0.6)(6, (4, 5), generator=gen)
    x = torch.randn(6, 20, 3, generator=gen)
    ids_keep, ids_restore = mask_to_ids(mask)
    assert ids_keep.shape == (6, 20 - 12) and ids_restore.shape == (6, 20)
    assert torch.equal(ids_keep, ids_keep.sort(dim=1).values)
    assert (~mask).gather(1, ids_keep).all()
    visible = x.gather(1, ids_keep[..., None].expand(-1, -1, 3))
    masked = x[mask].view(6, 12, 3)  # masked tokens in patch order
    restored = torch.cat([visible, masked], 1).gather(1, ids_restore[..., None].expand(-1, -1, 3))
    assert torch.equal(restored, x)


def test_ragged_mask_is_refused():
    mask = torch.tensor([[True, False, False], [True, True, False]])
    with pytest.raises(ValueError, match="same number"):
        mask_to_ids(mask)


@pytest.mark.parametrize("ratio", [0.75, 0.6])
def test_hf_random_masking_keeps_our_visible_patches(ratio, gen):
    config = ViTMAEConfig(hidden_size=8, image_size=28, patch_size=4, mask_ratio=ratio)
    embeddings = ViTMAEEmbeddings(config)
    mask = RandomMasking(ratio)(5, 7, generator=gen)
    tokens = torch.randn(5, 49, 8, generator=gen)
    unmasked, hf_mask, hf_restore = embeddings.random_masking(tokens, noise=to_hf_noise(mask))
    ids_keep, ids_restore = mask_to_ids(mask)
    assert torch.equal(hf_mask.bool(), mask)
    assert torch.equal(hf_restore, ids_restore)
    assert torch.equal(unmasked, tokens.gather(1, ids_keep[..., None].expand(-1, -1, 8)))


def test_hf_vitmae_model_masks_the_same_patches(gen):
    config = ViTMAEConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                          decoder_hidden_size=16, decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
                          decoder_intermediate_size=32, image_size=24, patch_size=4, mask_ratio=0.75)
    model = ViTMAEForPreTraining(config).eval()
    mask = ColorNoiseMasking("green", bank_size=4, pattern_size=32)(3, 6, generator=gen)
    with torch.no_grad():
        out = model(torch.randn(3, 3, 24, 24, generator=gen), noise=to_hf_noise(mask))
    assert torch.equal(out.mask.bool(), mask)
    assert torch.equal(out.ids_restore, mask_to_ids(mask)[1])
