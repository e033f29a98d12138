"""Backbone key layouts of mmdet's ViTDet project and detectron2's ViTDet.

The expected names and shapes are written down from the two projects' module definitions, not from our
code: detectron2 ``detectron2/modeling/backbone/vit.py`` (``ViT``: ``patch_embed = PatchEmbed(...)`` with
``self.proj = nn.Conv2d``; ``pos_embed = (1, num_patches + 1, D)`` for ``pretrain_img_size=224``,
``pretrain_use_cls_token=True``; ``blocks = ModuleList[Block]`` with ``norm1``, ``attn`` (``qkv``, ``proj``,
``rel_pos_h`` / ``rel_pos_w`` of ``(2 * input_size - 1, head_dim)``, input size the window in window
blocks), ``norm2``, ``mlp`` = timm ``Mlp`` (``fc1``, ``fc2``); wrapped as ``SimpleFeaturePyramid(net=...)``
under ``backbone``) and mmdet ``projects/ViTDet/vitdet/vit.py`` (``ViT(BaseModule)``, the same modules,
its own ``Mlp`` with ``fc1`` / ``fc2``; ``model.backbone``), as configured by
``vitdet_mask-rcnn_vit-b-mae_lsj-100e.py``: ViT-B/16, img_size 1024, window 14,
``window_block_indexes=[0, 1, 3, 4, 6, 7, 9, 10]``, ``use_rel_pos=True``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from colormae.convert.vitdet_layouts import vitdet_backbone, vitdet_checkpoint
from colormae.errors import UserError
from colormae.models import MAEConfig, MaskedAutoencoder

VIT_B = MAEConfig()  # ViT-B/16 at 224 px


def expected_vit_b(prefix: str) -> dict[str, tuple[int, ...]]:
    """ViTDet ViT-B/16 (1024 px, window 14, global blocks 2, 5, 8, 11) backbone keys and shapes."""
    keys = {f"{prefix}patch_embed.proj.weight": (768, 3, 16, 16), f"{prefix}patch_embed.proj.bias": (768,),
            f"{prefix}pos_embed": (1, 197, 768)}
    window_blocks = [0, 1, 3, 4, 6, 7, 9, 10]
    for i in range(12):
        b = f"{prefix}blocks.{i}."
        rel = (27, 64) if i in window_blocks else (127, 64)  # 2*14-1 ; 2*(1024/16)-1, head_dim 64
        keys.update({b + "norm1.weight": (768,), b + "norm1.bias": (768,),
                     b + "attn.qkv.weight": (2304, 768), b + "attn.qkv.bias": (2304,),
                     b + "attn.proj.weight": (768, 768), b + "attn.proj.bias": (768,),
                     b + "attn.rel_pos_h": rel, b + "attn.rel_pos_w": rel,
                     b + "norm2.weight": (768,), b + "norm2.bias": (768,),
                     b + "mlp.fc1.weight": (3072, 768), b + "mlp.fc1.bias": (3072,),
                     b + "mlp.fc2.weight": (768, 3072), b + "mlp.fc2.bias": (768,)})
    return keys


def test_mmdet_file_holds_what_mmdet_vit_declares() -> None:
    """The bare keys ``ViT.init_weights`` loads match a dump of mmdet's real ViT-B (fixture: file, commit and
    config in its ``source``), and the hand-written list above agrees with it."""
    fixture = Path(__file__).parents[1] / "convert" / "fixtures" / "mmdet_vitdet_vit_base_1024.json"
    declared = {k: tuple(v["shape"]) for k, v in json.loads(fixture.read_text())["state_dict"].items()}
    sd = vitdet_checkpoint(_meta_encoder(), VIT_B, "mmdet-vitdet")["model"]
    assert {k: tuple(v.shape) for k, v in sd.items()} == declared == expected_vit_b("")


def _meta_encoder() -> dict[str, torch.Tensor]:
    """A ViT-B MAE encoder state dict with shapes only (meta tensors: no memory)."""
    with torch.device("meta"):
        mae = MaskedAutoencoder(VIT_B)
    return mae.encoder.state_dict()


@pytest.mark.parametrize(("layout", "prefix", "wrapper"), [
    ("mmdet-vitdet", "backbone.", "state_dict"),  # load_from: the detector's keys
    ("mmdet-vitdet", "", "model"),  # init_cfg: ViT.init_weights loads ckpt['model'] into the ViT itself
    ("detectron2-vitdet", "backbone.net.", "model"),
])
def test_vit_b_layout(layout: str, prefix: str, wrapper: str) -> None:
    sd = vitdet_checkpoint(_meta_encoder(), VIT_B, layout, img_size=1024, window_size=14)[wrapper]
    expected = expected_vit_b(prefix)
    assert set(sd) == set(expected)  # no cls_token, no final norm
    assert {k: tuple(v.shape) for k, v in sd.items()} == expected
    assert not any(v.any() for k, v in sd.items() if "rel_pos" in k)  # zero: the MAE has none


def test_values_and_wrappers() -> None:
    torch.manual_seed(0)
    cfg = MAEConfig(img_size=32, patch_size=4, embed_dim=32, depth=8, num_heads=2, decoder_embed_dim=32,
                    decoder_depth=1, decoder_num_heads=2)
    enc = MaskedAutoencoder(cfg).encoder.state_dict()
    sd = vitdet_backbone(enc, cfg, "detectron2-vitdet", img_size=64, window_size=4)
    assert torch.equal(sd["backbone.net.blocks.2.attn.qkv.weight"], enc["blocks.2.attn.qkv.weight"])
    assert torch.equal(sd["backbone.net.pos_embed"], enc["pos_embed"])  # [CLS] slot kept; ViTDet drops it
    assert sd["backbone.net.blocks.3.attn.rel_pos_h"].shape == (31, 16)  # global: 2 * 64 / 4 - 1
    assert sd["backbone.net.blocks.2.attn.rel_pos_h"].shape == (7, 16)  # window 4 (global: 1, 3, 5, 7)
    # a detection backbone's own tables and (h, w, D) position grid are carried over
    from colormae.dense.detect.backbone import build_vit, load_encoder

    vit = build_vit(cfg, img_size=64, window_size=4)
    load_encoder(vit, enc)
    with torch.no_grad():
        vit.blocks[2].attn.rel_pos_w.fill_(0.25)
    sd2 = vitdet_backbone(vit.state_dict(), cfg, "mmdet-vitdet", img_size=64, window_size=4)
    assert torch.allclose(sd2["backbone.blocks.2.attn.rel_pos_w"], torch.full((7, 16), 0.25))
    assert sd2["backbone.pos_embed"].shape == (1, 1 + 16 * 16, 32)
    assert torch.equal(sd2["backbone.pos_embed"][0, 1:], vit.pos_embed.reshape(-1, 32))
    mm = vitdet_checkpoint(enc, cfg, "mmdet-vitdet", img_size=64)
    assert set(mm) == {"model", "state_dict", "meta"}  # init_cfg reads "model", load_from "state_dict"
    assert set(mm["state_dict"]) == {"backbone." + k for k in mm["model"]}
    assert all(mm["state_dict"]["backbone." + k] is v for k, v in mm["model"].items())  # stored once
    assert set(mm["meta"]["routes"]) == {"init_cfg", "load_from"}
    assert set(vitdet_checkpoint(enc, cfg, "detectron2-vitdet", img_size=64)) == {"model", "__author__"}
    with pytest.raises(UserError, match="unknown ViTDet layout"):
        vitdet_backbone(enc, cfg, "mmdet")
