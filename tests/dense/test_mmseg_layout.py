"""The mmseg MAE-backbone file (``--to mmseg``) against what mmseg's module declares.

The declared keys and shapes are not written by hand: ``tests/convert/fixtures/mmseg_mae_vit_base_512.json``
is ``MAE(...).state_dict()`` of mmseg 1.2.2's ``mmseg/models/backbones/mae.py`` built as the official
ColorMAE segmentation config builds it (ViT-B/16, 512 px, ``init_values=1.0``). ``MAE`` builds its layers
with ``bias=True``: one ``attn.qkv`` Linear with a full ``(3D,)`` bias, no BEiT ``q_bias`` / ``v_bias``.
``gamma_1`` / ``gamma_2``, ``attn.relative_position_bias_table`` and the ``relative_position_index`` buffer
are not in MAE checkpoints (mmseg keeps their initialisation); ``final_norm=False`` (no final norm).
``tests/convert/test_mm_real.py`` loads the file into the real module when mmseg is installed.
"""

import json
from pathlib import Path

import torch

from colormae.convert.mmseg_layout import mmseg_checkpoint, mmseg_state_dict
from colormae.models import create_mae

FIXTURE = Path(__file__).parents[1] / "convert" / "fixtures" / "mmseg_mae_vit_base_512.json"
NOT_IN_MAE = ("gamma_1", "gamma_2", "attn.relative_position_bias_table", "attn.relative_position_index")


def declared() -> dict[str, tuple[int, ...]]:
    """mmseg MAE ViT-B (512 px) state-dict keys and shapes that a pretrained MAE encoder fills."""
    sd = json.loads(FIXTURE.read_text())["state_dict"]
    return {k: tuple(v["shape"]) for k, v in sd.items() if not k.endswith(NOT_IN_MAE)}


def test_vit_base_file_holds_what_mmseg_declares():
    mae = create_mae("mae_vit_base_patch16")
    sd = mmseg_checkpoint(mae.encoder.state_dict(), mae.config)["state_dict"]
    prefixed = {k.removeprefix("backbone."): tuple(v.shape) for k, v in sd.items()
                if k.startswith("backbone.")}
    bare = {k: tuple(v.shape) for k, v in sd.items() if not k.startswith("backbone.")}
    expected = declared()
    assert len(expected) == 4 + 12 * 12
    assert prefixed == expected  # load_from: every tensor at the shape the 512 px module has
    # init_cfg: the same keys, pos_embed on the 224 px grid (MAE.resize_abs_pos_embed resizes it)
    assert bare == {**expected, "pos_embed": (1, 197, 768)}


def test_values_and_fused_qkv_bias():
    torch.manual_seed(0)
    mae = create_mae("mae_vit_micro_32px")
    with torch.no_grad():
        for p in mae.parameters():
            p.normal_()
    sd = mmseg_state_dict(mae.encoder.state_dict())
    blk = mae.encoder.blocks[1]
    assert torch.equal(sd["layers.1.attn.qkv.bias"], blk.attn.qkv.bias)  # all three thirds, key included
    assert torch.equal(sd["layers.1.attn.qkv.weight"], blk.attn.qkv.weight)
    assert torch.equal(sd["layers.1.ffn.layers.0.0.weight"], blk.mlp.fc1.weight)
    assert torch.equal(sd["patch_embed.projection.weight"], mae.encoder.patch_embed.proj.weight)
    assert not any(k.startswith("norm") or "q_bias" in k or "v_bias" in k for k in sd)
    ckpt = mmseg_checkpoint(mae.encoder.state_dict(), mae.config, img_size=64)
    both = ckpt["state_dict"]
    assert both["backbone.layers.1.attn.qkv.bias"] is both["layers.1.attn.qkv.bias"]  # stored once
    assert both["backbone.pos_embed"].shape == (1, 1 + 16 * 16, 64) and both["pos_embed"].shape == (1, 65, 64)
    assert set(ckpt["meta"]["routes"]) == {"init_cfg", "load_from"}


def test_pos_embed_resized_as_mmseg_does():
    """mmseg's ``MAE.resize_abs_pos_embed``: [CLS] kept, the grid through ``F.interpolate(bicubic,
    align_corners=False)`` (no antialiasing)."""
    torch.manual_seed(0)
    mae = create_mae("mae_vit_micro_32px")
    pos = torch.randn(1, 65, 64)
    with torch.no_grad():
        mae.encoder.pos_embed.copy_(pos)
    ckpt = mmseg_checkpoint(mae.encoder.state_dict(), mae.config, img_size=48)
    got = ckpt["state_dict"]["backbone.pos_embed"]
    grid = pos[:, 1:].reshape(1, 8, 8, 64).permute(0, 3, 1, 2)
    want = torch.nn.functional.interpolate(grid, size=(12, 12), mode="bicubic", align_corners=False)
    want = torch.cat([pos[:, :1], want.permute(0, 2, 3, 1).flatten(1, 2)], 1)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_dropping_the_key_bias_leaves_attention_unchanged():
    torch.manual_seed(0)
    mae = create_mae("mae_vit_micro_32px").eval()
    blk = mae.encoder.blocks[0]
    x = torch.randn(2, 65, 64)
    with torch.no_grad():
        blk.attn.qkv.bias.normal_()
        before = blk.attn(x)
        blk.attn.qkv.bias[64:128] = 0  # a key bias shifts all of a query's logits alike
        after = blk.attn(x)
    torch.testing.assert_close(before, after, rtol=1e-5, atol=1e-5)
