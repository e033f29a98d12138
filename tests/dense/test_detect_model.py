"""The ViTDet backbone (window / global attention, relative position bias, position embeddings), the simple
feature pyramid, the torchvision detectors built on them, layer decay and the detection lr schedule."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from colormae.dense.detect.backbone import build_vit, global_blocks, load_encoder, resize_rel_pos
from colormae.dense.detect.model import DetectorConfig, build_detector, detector_from_encoder, vit_lr_scale
from colormae.errors import UserError
from colormae.models import MAEConfig, MaskedAutoencoder
from colormae.train.schedule import WarmupMultiStep

#: A 12-block encoder small enough for tests: 32 px, 4 px patches (8x8 grid).
SMALL = MAEConfig(img_size=32, patch_size=4, embed_dim=32, depth=12, num_heads=2, decoder_embed_dim=32,
                  decoder_depth=1, decoder_num_heads=2)


def test_global_blocks_are_vitdets() -> None:
    assert global_blocks(12) == (2, 5, 8, 11)  # ViTDet ViT-B
    assert global_blocks(24) == (5, 11, 17, 23)  # ViT-L
    assert global_blocks(32) == (7, 15, 23, 31)  # ViT-H
    assert global_blocks(6) == (0, 2, 3, 5) and global_blocks(2) == (0, 1)


def test_vit_from_mae_encoder() -> None:
    torch.manual_seed(0)
    mae = MaskedAutoencoder(SMALL)
    vit = build_vit(SMALL, img_size=64, window_size=4)  # grid 16 from the pretrained 8
    notes = load_encoder(vit, mae.encoder.state_dict())
    assert any("zero-initialised" in n for n in notes)
    for i, block in enumerate(vit.blocks):
        length = 2 * (16 if i in (2, 5, 8, 11) else 4) - 1
        assert block.window_size == (0 if i in (2, 5, 8, 11) else 4)
        assert block.attn.rel_pos_h.shape == (length, 16) and block.attn.rel_pos_w.shape == (length, 16)
        assert not block.attn.rel_pos_h.any() and not block.attn.rel_pos_w.any()
    enc = mae.encoder.state_dict()
    assert torch.equal(vit.blocks[3].attn.qkv.weight, enc["blocks.3.attn.qkv.weight"])
    assert torch.equal(vit.patch_embed.proj.weight, enc["patch_embed.proj.weight"])
    grid = enc["pos_embed"][:, 1:].reshape(1, 8, 8, -1).permute(0, 3, 1, 2)  # [CLS] entry dropped
    expected = F.interpolate(grid, size=(16, 16), mode="bicubic", align_corners=False).permute(0, 2, 3, 1)
    assert torch.allclose(vit.pos_embed, expected, atol=1e-6)
    feats = vit.forward_features(torch.randn(2, 3, 64, 48))  # any multiple of the patch size
    assert feats.shape == (2, 32, 16, 12)


def test_window_blocks_attend_within_windows_only() -> None:
    torch.manual_seed(0)
    vit = build_vit(SMALL, img_size=32, window_size=4).eval().double()
    x = torch.randn(1, 8, 8, 32, dtype=torch.float64)
    y = x.clone()
    y[0, 0, 0, 0] += 5.0  # change one token of the top-left window
    with torch.no_grad():
        local = vit.blocks[0](y) - vit.blocks[0](x)
        glob = vit.blocks[2](y) - vit.blocks[2](x)
    changed = local.abs().sum(-1)[0] > 0
    assert changed[:4, :4].all() and not changed[4:].any() and not changed[:, 4:].any()
    assert (glob.abs().sum(-1)[0] > 0).all()


def test_relative_position_tables_interpolate() -> None:
    table = torch.randn(7, 16)
    assert resize_rel_pos(table, 7) is table
    assert torch.allclose(resize_rel_pos(torch.full((7, 4), 3.0), 27), torch.full((27, 4), 3.0))
    vit = build_vit(SMALL, img_size=32, window_size=4)
    mae = MaskedAutoencoder(SMALL)
    src = dict(mae.encoder.state_dict())
    src["blocks.0.attn.rel_pos_h"] = torch.full((13, 16), 0.5)  # a checkpoint with its own tables
    src["blocks.0.attn.rel_pos_w"] = torch.full((13, 16), -0.5)
    load_encoder(vit, src)
    assert torch.allclose(vit.blocks[0].attn.rel_pos_h, torch.full((7, 16), 0.5))
    assert torch.allclose(vit.blocks[0].attn.rel_pos_w, torch.full((7, 16), -0.5))
    bad = dict(mae.encoder.state_dict())
    bad["blocks.1.mlp.fc1.weight"] = torch.zeros(3, 3)
    with pytest.raises(UserError, match="blocks.1.mlp.fc1.weight"):
        load_encoder(vit, bad)
    with pytest.raises(UserError, match="global_blocks"):
        build_vit(SMALL, img_size=32, global_indexes=(12,))


@pytest.mark.parametrize("masks", [True, False])
def test_detector_trains_and_predicts(masks: bool) -> None:
    torch.manual_seed(0)
    mae = MaskedAutoencoder(SMALL)
    det = DetectorConfig(num_classes=3, masks=masks, img_size=32, window_size=4, channels=16, roi_batch=32)
    model, _ = detector_from_encoder(SMALL, mae.encoder.state_dict(), det)
    assert model.backbone.strides == [1.0, 2.0, 4.0, 8.0, 16.0]
    feats = model.backbone(torch.randn(1, 3, 32, 32))
    assert [tuple(f.shape[-2:]) for f in feats.values()] == [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2)]
    assert all(f.shape[1] == 16 for f in feats.values())
    target = {"boxes": torch.tensor([[4.0, 6.0, 20.0, 24.0]]), "labels": torch.tensor([2]),
              "masks": torch.zeros(1, 32, 32, dtype=torch.uint8)}
    target["masks"][0, 6:24, 4:20] = 1
    model.train()
    losses = model([torch.rand(3, 32, 32)] * 2, [target, {**target, "boxes": target["boxes"] + 2}])
    expected = {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"} | (
        {"loss_mask"} if masks else set())
    assert set(losses) == expected and all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert model.backbone.vit.blocks[0].attn.qkv.weight.grad is not None
    model.eval()
    with torch.no_grad():
        out = model([torch.rand(3, 30, 45)])[0]  # any size: resized to 32 on the long side and back
    assert ("masks" in out) == masks
    if masks:
        assert out["masks"].shape[1:] == (1, 30, 45)


def test_layer_decay_follows_vitdet() -> None:
    scale = vit_lr_scale(12, 0.7)
    assert scale("backbone.vit.patch_embed.proj.weight") == pytest.approx(0.7 ** 13)
    assert scale("backbone.vit.pos_embed") == pytest.approx(0.7 ** 13)
    assert scale("backbone.vit.blocks.0.attn.qkv.weight") == pytest.approx(0.7 ** 12)
    assert scale("backbone.vit.blocks.11.mlp.fc2.bias") == pytest.approx(0.7)
    assert scale("backbone.pyramid.stages.0.0.weight") == 1.0
    assert scale("roi_heads.box_head.0.0.weight") == 1.0


def test_warmup_then_steps() -> None:
    lr = WarmupMultiStep(1e-4, 250, (163889, 177546))  # ViTDet's 100-epoch schedule
    assert lr(0) == pytest.approx(1e-7) and lr(125) == pytest.approx(1e-4 * (0.001 + 0.999 * 0.5))
    assert lr(250) == pytest.approx(1e-4) and lr(163888) == pytest.approx(1e-4)
    assert lr(163889) == pytest.approx(1e-5) and lr(177546) == pytest.approx(1e-6)


def test_random_preset_builds_a_detector() -> None:
    from colormae.models import create_mae

    mae = create_mae("mae_vit_micro_32px")
    model = build_detector(mae.config, DetectorConfig(num_classes=2, img_size=32, channels=8))
    assert model.backbone.vit.embed_dim == 64 and len(model.backbone.vit.blocks) == 2
