"""The mmseg MAE-backbone key layout.

The expected names and shapes below are written down from mmseg's ``mmseg/models/backbones/mae.py`` (MAE is
BEiT with ``use_abs_pos_emb=True``): ``PatchEmbed`` -> ``patch_embed.projection`` (Conv2d), ``cls_token``
(1, 1, D), ``pos_embed`` (1, 1 + L, D); ``BEiTTransformerEncoderLayer`` -> ``ln1`` / ``ln2`` (LN),
``attn.qkv`` (Linear D -> 3D, bias=False), ``attn.q_bias`` / ``attn.v_bias`` (D,), ``attn.proj``,
``ffn.layers.0.0`` (D -> 4D), ``ffn.layers.1`` (4D -> D); ``gamma_1`` / ``gamma_2`` not stored in a
pretrained encoder; ``final_norm=False`` (no final ``ln1``).
"""

import torch

from colormae.convert.mmseg_layout import mmseg_state_dict
from colormae.models import create_mae

D, L = 768, 196


def mmseg_mae_vit_base_keys() -> dict[str, tuple[int, ...]]:
    keys = {"cls_token": (1, 1, D), "pos_embed": (1, 1 + L, D),
            "patch_embed.projection.weight": (D, 3, 16, 16), "patch_embed.projection.bias": (D,)}
    for i in range(12):
        keys.update({
            f"layers.{i}.ln1.weight": (D,), f"layers.{i}.ln1.bias": (D,),
            f"layers.{i}.attn.qkv.weight": (3 * D, D),
            f"layers.{i}.attn.q_bias": (D,), f"layers.{i}.attn.v_bias": (D,),
            f"layers.{i}.attn.proj.weight": (D, D), f"layers.{i}.attn.proj.bias": (D,),
            f"layers.{i}.ln2.weight": (D,), f"layers.{i}.ln2.bias": (D,),
            f"layers.{i}.ffn.layers.0.0.weight": (4 * D, D), f"layers.{i}.ffn.layers.0.0.bias": (4 * D,),
            f"layers.{i}.ffn.layers.1.weight": (D, 4 * D), f"layers.{i}.ffn.layers.1.bias": (D,),
        })
    return keys


def test_vit_base_keys_and_shapes():
    mae = create_mae("mae_vit_base_patch16")
    sd = mmseg_state_dict(mae)
    assert {k: tuple(v.shape) for k, v in sd.items()} == mmseg_mae_vit_base_keys()
    assert set(mmseg_state_dict(mae, prefix="backbone.")) == {"backbone." + k for k in sd}


def test_values_and_qkv_bias_split():
    torch.manual_seed(0)
    mae = create_mae("mae_vit_micro_32px")
    with torch.no_grad():
        for p in mae.parameters():
            p.normal_()
    sd = mmseg_state_dict(mae)
    blk = mae.encoder.blocks[1]
    bias = blk.attn.qkv.bias
    d = bias.shape[0] // 3
    assert torch.equal(sd["layers.1.attn.q_bias"], bias[:d]) and torch.equal(sd["layers.1.attn.v_bias"],
                                                                             bias[2 * d:])
    assert torch.equal(sd["layers.1.ffn.layers.0.0.weight"], blk.mlp.fc1.weight)
    assert torch.equal(sd["patch_embed.projection.weight"], mae.encoder.patch_embed.proj.weight)


def test_dropping_the_key_bias_leaves_attention_unchanged():
    torch.manual_seed(0)
    mae = create_mae("mae_vit_micro_32px").eval()
    blk = mae.encoder.blocks[0]
    x = torch.randn(2, 65, 64)
    with torch.no_grad():
        blk.attn.qkv.bias.normal_()
        before = blk.attn(x)
        blk.attn.qkv.bias[64:128] = 0  # what mmseg's BEiT attention has (no key bias)
        after = blk.attn(x)
    torch.testing.assert_close(before, after, rtol=1e-5, atol=1e-5)
