"""MaskedAutoencoder: shapes, encoder sees only visible tokens, masked-only loss, learning, presets."""

import dataclasses

import pytest
import timm
import torch

from colormae.errors import UserError
from colormae.models import PRESETS, MAEConfig, MaskedAutoencoder, create_mae


def make_mask(batch: int, length: int, keep: int, gen: torch.Generator) -> torch.Tensor:
    """A random bool mask (B, L) with exactly ``keep`` visible patches per row (test data)."""
    rank = torch.rand(batch, length, generator=gen).argsort(1).argsort(1)
    return rank >= keep


@pytest.fixture
def micro() -> MaskedAutoencoder:
    torch.manual_seed(0)
    return create_mae("mae_vit_micro_32px").eval()


def test_output_shapes(micro, gen):
    images = torch.randn(3, 3, 32, 32, generator=gen)
    mask = make_mask(3, 64, 16, gen)
    out = micro(images, mask)
    assert micro.grid == (8, 8) and micro.num_patches == 64
    assert out.loss.dim() == 0 and out.pred.shape == (3, 64, 48) and out.mask is mask
    assert out.latent.shape == (3, 1 + 16, 64)
    assert micro.forward_features(images).shape == (3, 1 + 64, 64)
    assert torch.equal(micro.unpatchify(micro.patchify(images)), images)


def test_encoder_sees_only_visible_tokens(micro, gen):
    images = torch.randn(2, 3, 32, 32, generator=gen)
    mask = make_mask(2, 64, 10, gen)
    seen = []
    hook = micro.encoder.blocks[0].register_forward_hook(lambda m, args, out: seen.append(args[0].shape))
    latent = micro.forward_encoder(images, mask)
    hook.remove()
    assert seen == [torch.Size([2, 1 + 10, 64])]
    assert latent.shape == (2, 11, 64)
    # Changing the pixels of masked patches changes nothing the encoder outputs.
    pixel_mask = micro.unpatchify(mask[..., None].expand(-1, -1, 48).float()).bool()
    noisy = torch.where(pixel_mask, torch.randn_like(images) * 10, images)
    assert not torch.equal(noisy, images)
    torch.testing.assert_close(micro.forward_encoder(noisy, mask), latent, rtol=0, atol=1e-6)
    # ...while changing a visible patch does.
    changed = torch.where(~pixel_mask, images + 1.0, images)
    assert not torch.allclose(micro.forward_encoder(changed, mask), latent)


def test_visible_patch_embedding_equals_timm_patch_embed(micro, gen):
    from colormae.models.ids import mask_to_ids

    images = torch.randn(3, 3, 32, 32, generator=gen)
    ids_keep, _ = mask_to_ids(make_mask(3, 64, 16, gen))
    enc = micro.encoder
    full = enc.patch_embed(images) + enc.pos_embed[:, 1:]  # (B, L, D), the convolution on every patch
    expected = torch.gather(full, 1, ids_keep[..., None].expand(-1, -1, full.shape[-1]))
    torch.testing.assert_close(micro._embed_visible(images, ids_keep), expected, rtol=1e-5, atol=1e-5)


def test_loss_counts_masked_patches_only(micro, gen):
    images = torch.randn(2, 3, 32, 32, generator=gen)
    mask = make_mask(2, 64, 16, gen)
    pred = torch.randn(2, 64, 48, generator=gen)
    loss = micro.loss(images, pred, mask)
    perturbed = torch.where(mask[..., None], pred, pred + 5.0)  # visible patches only
    assert micro.loss(images, perturbed, mask).item() == loss.item()
    # ...and equals the hand-written normalized-pixel MSE.
    t = micro.patchify(images)
    t = (t - t.mean(-1, keepdim=True)) / (t.var(-1, keepdim=True) + 1e-6) ** 0.5
    expected = ((pred - t) ** 2).mean(-1)[mask].mean()
    torch.testing.assert_close(loss, expected)
    assert micro.loss(images, torch.where(mask[..., None], pred + 5.0, pred), mask).item() != loss.item()


def test_norm_pix_off_uses_raw_pixels(gen):
    model = create_mae("mae_vit_micro_32px", norm_pix_loss=False)
    images = torch.randn(1, 3, 32, 32, generator=gen)
    assert torch.equal(model.target(images), model.patchify(images))


def test_loss_falls_with_adamw(gen):
    torch.manual_seed(0)
    model = create_mae("mae_vit_micro_32px").train()
    # Each image repeats one random 4x4 patch, so masked patches are predictable from visible ones and
    # the loss can go far below 1 (the loss of predicting the normalized-pixel mean).
    images = torch.randn(4, 3, 4, 4, generator=gen).repeat(1, 1, 8, 8)
    mask = make_mask(4, 64, 16, gen)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(30):
        loss = model(images, mask).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 and losses[-1] < 0.2 * losses[0]


def test_fixed_position_embeddings_and_fused_attention(micro):
    assert not micro.encoder.pos_embed.requires_grad and not micro.decoder_pos_embed.requires_grad
    assert micro.encoder.pos_embed.shape == (1, 65, 64) and micro.decoder_pos_embed.shape == (1, 65, 32)
    attns = [m for m in micro.modules() if hasattr(m, "fused_attn")]
    assert len(attns) == 2 + 1 and all(m.fused_attn for m in attns)


def test_mae_initialisation(micro):
    for m in micro.modules():
        if isinstance(m, torch.nn.LayerNorm):
            assert torch.equal(m.weight, torch.ones_like(m.weight)) and not m.bias.any()
        if isinstance(m, torch.nn.Linear):
            assert not m.bias.any()
            bound = (6.0 / (m.in_features + m.out_features)) ** 0.5
            assert m.weight.abs().max() <= bound


def test_encoder_is_a_plain_timm_vit(micro):
    vit = timm.models.vision_transformer.VisionTransformer(
        img_size=32, patch_size=4, embed_dim=64, depth=2, num_heads=4, num_classes=0
    )
    vit.load_state_dict(micro.encoder.state_dict())  # strict: identical key set and shapes
    images = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(vit.forward_features(images), micro.forward_features(images))


def test_presets():
    assert {"mae_vit_tiny_patch16", "mae_vit_small_patch16", "mae_vit_base_patch16", "mae_vit_large_patch16",
            "mae_vit_huge_patch14", "mae_vit_tiny_32px", "mae_vit_micro_32px"} <= set(PRESETS)
    base = PRESETS["mae_vit_base_patch16"]
    assert (base.embed_dim, base.depth, base.num_heads, base.num_patches) == (768, 12, 12, 196)
    assert (base.decoder_embed_dim, base.decoder_depth, base.decoder_num_heads) == (512, 8, 16)
    huge = PRESETS["mae_vit_huge_patch14"]
    assert (huge.embed_dim, huge.depth, huge.patch_size, huge.grid) == (1280, 32, 14, (16, 16))
    assert PRESETS["mae_vit_large_patch16"].depth == 24 and PRESETS["mae_vit_tiny_32px"].grid == (8, 8)


def test_create_mae_overrides_and_errors():
    model = create_mae("mae_vit_micro_32px", decoder_depth=2, img_size=(32, 16))
    assert len(model.decoder_blocks) == 2 and model.grid == (8, 4)
    assert model(torch.zeros(1, 3, 32, 16), make_mask(1, 32, 8, torch.Generator())).pred.shape == (1, 32, 48)
    assert isinstance(create_mae(dataclasses.replace(PRESETS["mae_vit_micro_32px"])), MaskedAutoencoder)
    with pytest.raises(UserError, match="mae_vit_base_patch16"):
        create_mae("vit_gigantic")
    with pytest.raises(UserError, match="decoder_width"):
        create_mae("mae_vit_micro_32px", decoder_width=3)


@pytest.mark.parametrize(
    ("fields", "named"),
    [({"img_size": 30, "patch_size": 4}, "patch_size"), ({"embed_dim": 64, "num_heads": 3}, "num_heads"),
     ({"decoder_embed_dim": 32, "decoder_num_heads": 5}, "decoder_num_heads"), ({"depth": 0}, "depth")],
)
def test_config_validation_names_the_field(fields, named):
    with pytest.raises(UserError, match=named):
        MAEConfig(**fields)
