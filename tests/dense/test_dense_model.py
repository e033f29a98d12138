"""The segmentation model: pyramid shapes, position-embedding interpolation, weights, layer decay."""

import torch
from timm.layers import resample_abs_pos_embed

from colormae.dense.backbone import default_out_indices
from colormae.dense.pyramid import Feature2Pyramid
from colormae.dense.segmentor import (
    HeadConfig,
    Segmentor,
    model_config,
    segmentor_from_config,
    segmentor_from_mae,
)
from colormae.eval.layer_decay import finetune_optimizer, lr_scales_by_name
from colormae.models import create_mae


def test_default_out_indices_follow_the_protocol():
    assert default_out_indices(12) == (3, 5, 7, 11)
    assert default_out_indices(6) == (1, 2, 3, 5)
    assert default_out_indices(24) == (7, 11, 15, 23)


def test_pyramid_rescales():
    neck = Feature2Pyramid(16)
    out = neck([torch.randn(2, 16, 8, 6) for _ in range(4)])
    assert [tuple(o.shape) for o in out] == [(2, 16, 32, 24), (2, 16, 16, 12), (2, 16, 8, 6), (2, 16, 4, 3)]


def test_backbone_takes_the_encoder_and_interpolates_position_embeddings():
    torch.manual_seed(0)
    mae = create_mae("mae_vit_micro_32px")  # 8x8 grid
    seg = segmentor_from_mae(mae, HeadConfig(num_classes=3, crop=48, channels=8, aux_channels=8))
    vit = seg.backbone.vit
    assert vit.pos_embed.shape == (1, 1 + 12 * 12, 64) and vit.pos_embed.requires_grad
    expected = resample_abs_pos_embed(mae.encoder.pos_embed.detach(), [12, 12], [8, 8], num_prefix_tokens=1,
                                      antialias=False)  # plain bicubic, as mmseg's MAE resizes it
    torch.testing.assert_close(vit.pos_embed.detach(), expected)
    for name in ("patch_embed.proj.weight", "cls_token", "blocks.1.attn.qkv.weight", "blocks.0.mlp.fc2.bias"):
        assert torch.equal(vit.state_dict()[name], mae.encoder.state_dict()[name]), name
    assert torch.equal(vit.blocks[0].ls1.gamma, torch.ones(64))  # layer scale, init 1.0


def test_forward_shapes_train_and_eval():
    seg = segmentor_from_mae(create_mae("mae_vit_micro_32px"), HeadConfig(num_classes=4, crop=32, channels=8,
                                                                           aux_channels=8))
    seg.train()
    logits, aux = seg(torch.randn(2, 3, 32, 32))
    assert logits.shape == aux.shape == (2, 4, 32, 32)
    seg.eval()
    assert seg(torch.randn(1, 3, 30, 45)).shape == (1, 4, 30, 45)  # padded to the patch size and cropped


def test_rebuilt_from_its_model_config():
    mae = create_mae("mae_vit_micro_32px")
    head = HeadConfig(num_classes=4, crop=32, channels=8, aux_channels=8, classes=list("abcd"))
    seg = segmentor_from_mae(mae, head)
    again = segmentor_from_config(model_config(mae.config, head))
    assert isinstance(again, Segmentor)
    again.load_state_dict(seg.state_dict())  # same keys and shapes


def test_layer_decay_follows_mmseg():
    # mmseg LayerDecayOptimizerConstructor: embeddings id 0, block i id i + 1, the rest id depth + 1;
    # scale = decay ** (depth + 1 - id)
    mae = create_mae("mae_vit_tiny_32px")  # depth 6
    seg = segmentor_from_mae(mae, HeadConfig(num_classes=3, crop=32, channels=8, aux_channels=8))
    d = 0.5
    scales = lr_scales_by_name(finetune_optimizer(seg, 1.0, layer_decay=d), seg)
    assert scales["backbone.vit.pos_embed"] == d ** 7
    assert scales["backbone.vit.patch_embed.proj.weight"] == d ** 7
    for i in range(6):
        assert scales[f"backbone.vit.blocks.{i}.attn.qkv.weight"] == d ** (6 - i)
    assert scales["neck.ops.0.0.weight"] == scales["decode_head.classifier.1.weight"] == 1.0
    assert scales["auxiliary_head.classifier.1.bias"] == 1.0
