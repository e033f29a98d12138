"""One ViT builder from ``MAEConfig``: every network that holds an encoder (the MAE, the fine-tuning
classifier, the segmentation backbone, the ViTDet detection backbone) is built with the config's fields,
LayerNorm epsilon included, so an encoder imported from Hugging Face computes the same features in all."""

import pytest
import torch
from torch import nn

from colormae.models import MAEConfig
from colormae.models.vit import build_vit, vit_kwargs


def _eps(model: nn.Module) -> set[float]:
    return {m.eps for m in model.modules() if isinstance(m, nn.LayerNorm)}


def test_build_vit_takes_every_field_of_the_config():
    cfg = MAEConfig(img_size=(32, 48), patch_size=8, in_chans=1, embed_dim=32, depth=3, num_heads=2,
                    mlp_ratio=3.0, layer_norm_eps=1e-12)
    vit = build_vit(cfg, num_classes=0)
    assert vit.patch_embed.grid_size == (4, 6) and vit.patch_embed.proj.in_channels == 1
    assert vit.embed_dim == 32 and len(vit.blocks) == 3 and vit.blocks[0].attn.num_heads == 2
    assert vit.blocks[0].mlp.fc1.out_features == 96 and vit.blocks[0].attn.qkv.bias is not None
    assert _eps(vit) == {1e-12}
    assert vit(torch.randn(2, 1, 32, 48)).shape == (2, 32)
    # callers override or add timm arguments; the config's shapes stay
    kw = vit_kwargs(cfg, img_size=64, drop_path_rate=0.1)
    assert kw["img_size"] == 64 and kw["drop_path_rate"] == 0.1 and kw["mlp_ratio"] == 3.0


def test_hf_encoder_gives_the_same_features_everywhere(tmp_path):
    """An HF ViTMAE (LayerNorm eps 1e-12, MLP ratio 2) imported with ``colormae.load``: the same token
    features in HF's encoder (no masking), our MAE's ``forward_features``, the classifier's
    ``forward_features`` ([CLS] pooling keeps the final norm), the segmentation backbone's last block
    (before the final norm; with it, the MAE's features) and the ViTDet ViT. ViTDet has no [CLS] token and
    attends in windows, so it is compared where it must agree: one window covering the whole grid (every
    block global; relative position bias zero-initialised) against the MAE encoder's blocks run on the
    patch tokens alone. The embeddings are scaled down so the tokens' variance is near 1e-6: there a
    LayerNorm epsilon of 1e-6 instead of 1e-12 changes the features by far more than the tolerance."""
    transformers = pytest.importorskip("transformers")
    import colormae
    from colormae.dense.backbone import backbone_from_mae
    from colormae.dense.detect.backbone import build_vit as build_vitdet
    from colormae.dense.detect.backbone import load_encoder
    from colormae.models.classifier import classifier_from_mae

    torch.manual_seed(0)
    hf_cfg = transformers.ViTMAEConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32,
        patch_size=8, decoder_hidden_size=16, decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
        decoder_intermediate_size=32, layer_norm_eps=1e-12, mask_ratio=0.0)
    hf = transformers.ViTMAEForPreTraining(hf_cfg).eval()
    with torch.no_grad():
        emb = hf.vit.embeddings
        for p in (emb.cls_token, emb.position_embeddings, emb.patch_embeddings.projection.weight,
                  emb.patch_embeddings.projection.bias):
            p.mul_(1e-3)
    hf.save_pretrained(tmp_path / "hf")
    mae = colormae.load(tmp_path / "hf").model
    assert mae.config.layer_norm_eps == 1e-12 and mae.config.mlp_ratio == 2.0

    x = torch.randn(2, 3, 32, 32)
    grid = mae.config.grid
    with torch.no_grad():
        theirs = hf.vit(pixel_values=x, noise=torch.arange(16.0).expand(2, -1)).last_hidden_state
        ref = mae.forward_features(x)  # (B, 1+L, D)
        torch.testing.assert_close(ref, theirs, rtol=1e-5, atol=1e-5)

        classifier = classifier_from_mae(mae, 5, global_pool="token").eval()
        torch.testing.assert_close(classifier.forward_features(x), ref, rtol=1e-5, atol=1e-5)

        backbone = backbone_from_mae(mae, (32, 32), (mae.config.depth - 1,)).eval()
        (fmap,) = backbone(x)  # (B, D, h, w) before the final norm
        tokens = fmap.flatten(2).transpose(1, 2)
        torch.testing.assert_close(mae.encoder.norm(tokens), ref[:, 1:], rtol=1e-5, atol=1e-5)

        vitdet = build_vitdet(mae.config, img_size=32, window_size=grid[0]).eval()
        load_encoder(vitdet, mae.encoder.state_dict())
        enc = mae.encoder
        patches = enc.patch_embed(x) + enc.pos_embed[:, 1:]  # no [CLS]
        for block in enc.blocks:
            patches = block(patches)
        det_tokens = vitdet.forward_features(x).flatten(2).transpose(1, 2)
        torch.testing.assert_close(det_tokens, patches, rtol=1e-5, atol=1e-5)

    for model in (mae, classifier, backbone, vitdet):
        assert _eps(model) == {1e-12}, type(model).__name__
