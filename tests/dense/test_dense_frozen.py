"""``segment --freeze-encoder`` (the dense probe) and ``detect --freeze-encoder``: every encoder tensor is
bit-identical after training, while the pyramid and the heads learn."""

import json
from pathlib import Path

import pytest
import torch
from fabricate import make_generic

from colormae.cli import main
from colormae.loading import load


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A pretraining checkpoint of the micro MAE (fixed weights to compare against)."""
    from colormae.convert import export_colormae
    from colormae.models import create_mae

    torch.manual_seed(11)
    path = tmp_path_factory.mktemp("src") / "run" / "checkpoints" / "step-00000001.pt"
    export_colormae(create_mae("mae_vit_micro_32px"), path)
    return path


def _steps(out: Path) -> list[dict[str, torch.Tensor]]:
    paths = sorted((out / "checkpoints").glob("step-*.pt"))
    return [torch.load(p, weights_only=True)["model"] for p in paths]


def _assert_backbone_unchanged(out: Path, source: Path, **head: object
                               ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The first and last checkpointed state of the run in ``out``, after checking that every backbone
    tensor of both equals the backbone the job built from ``source``."""
    from colormae.dense.segmentor import HeadConfig, segmentor_from_mae

    first, *_, last = _steps(out)
    # the backbone as the job built it from the checkpoint (position embeddings resampled to the 16 px crop,
    # layer-scale gammas at 1.0): no tensor of it moved, buffers included
    reference = segmentor_from_mae(load(source).mae(), HeadConfig(num_classes=3, crop=16, **head)).backbone
    backbone = {f"backbone.{k}": v for k, v in reference.state_dict().items()}
    assert backbone and set(backbone) == {k for k in last if k.startswith("backbone.")}
    for key, value in backbone.items():
        assert torch.equal(last[key], value) and torch.equal(first[key], value), key
    return first, last


def test_dense_probe_keeps_the_encoder_bit_identical(tmp_path, source):
    data = tmp_path / "data"
    make_generic(data)
    out = tmp_path / "probe"
    assert main(["segment", str(source), "--data", str(data), "--out", str(out), "--freeze-encoder",
                 "crop_size=16", "batch_size=2", "max_steps=3", "warmup_steps=1", "ckpt_every=1",
                 "keep_last=0", "num_workers=0", "channels=8", "aux_channels=8", "figure=0",
                 "--no-progress"]) == 0
    first, last = _assert_backbone_unchanged(out, source)
    learned = [k for k in last if k.startswith(("neck.", "decode_head.", "auxiliary_head."))
               and last[k].is_floating_point() and not torch.equal(first[k], last[k])]
    assert any(k.startswith("neck.") for k in learned) and any(k.startswith("decode_head.") for k in learned)
    res = json.loads((out / "segment.json").read_text())
    assert res["trainable_params"] == sum(v.numel() for k, v in last.items() if not k.startswith("backbone.")
                                          and v.is_floating_point() and "running_" not in k)


def test_linear_dense_probe_reads_each_token_linearly(tmp_path, source):
    """``--head linear --freeze-encoder``: only BatchNorm and a 1x1 conv on the last block's patch tokens
    learn (2D + DK + K parameters), and the reloaded model's logits are exactly that linear map of the
    frozen tokens, upsampled bilinearly."""
    import torch.nn.functional as F

    data = tmp_path / "data"
    make_generic(data)
    out = tmp_path / "linear"
    assert main(["segment", str(source), "--data", str(data), "--out", str(out), "--freeze-encoder",
                 "--head", "linear", "crop_size=16", "batch_size=2", "max_steps=3", "warmup_steps=1",
                 "ckpt_every=1", "keep_last=0", "num_workers=0", "figure=0", "--no-progress"]) == 0
    first, last = _assert_backbone_unchanged(out, source, head="linear")
    assert not any(k.startswith(("neck.", "auxiliary_head.")) for k in last)
    assert not torch.equal(first["decode_head.classifier.weight"], last["decode_head.classifier.weight"])
    res = json.loads((out / "segment.json").read_text())
    dim, depth, classes = 64, 2, 3  # mae_vit_micro_32px, make_generic's classes
    assert res["head"]["out_indices"] == [depth - 1] and res["head"]["aux"] is False
    assert res["trainable_params"] == 2 * dim + dim * classes + classes

    model = load(out).model.eval()
    images = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        tokens = model.backbone(images)[0]                                 # (B, D, 4, 4)
        head = model.decode_head
        normed = F.batch_norm(tokens, head.norm.running_mean, head.norm.running_var, head.norm.weight,
                              head.norm.bias, eps=head.norm.eps)
        logits = F.conv2d(normed, head.classifier.weight, head.classifier.bias)
        expected = F.interpolate(logits, size=(16, 16), mode="bilinear", align_corners=False)
        assert torch.allclose(model(images), expected, atol=1e-5)


def test_detect_with_a_frozen_encoder(tmp_path, source):
    from test_detect_data import make_coco

    make_coco(tmp_path / "coco")
    out = tmp_path / "det"
    assert main(["detect", str(source), "epochs=none", "batch_size=2", "num_workers=0", "img_size=32",
                 "fpn_channels=8", "roi_batch=16", "window_size=4", "pyramid_scales=[1,0.5]",
                 "detections_per_img=20", "--no-progress", "--data", str(tmp_path / "coco"), "--no-masks",
                 "max_steps=2", "ckpt_every=1", "keep_last=0", "figure_images=0", "--freeze-encoder",
                 "--out", str(out)]) == 0
    first, last = _steps(out)
    vit = [k for k in last if k.startswith("backbone.vit.")]
    assert vit and all(torch.equal(first[k], last[k]) for k in vit)
    encoder = load(source).mae().encoder.state_dict()
    pre = len("backbone.vit.")
    shared = [k for k in vit if k[pre:] in encoder and last[k].shape == encoder[k[pre:]].shape]
    assert "backbone.vit.blocks.1.mlp.fc1.weight" in shared  # the pretrained weights, never moved
    assert all(torch.equal(last[k], encoder[k[pre:]]) for k in shared)
    heads = [k for k in last if not k.startswith("backbone.vit.") and last[k].is_floating_point()
             and not torch.equal(first[k], last[k])]
    assert any(k.startswith("rpn.") for k in heads) and any(k.startswith("roi_heads.") for k in heads)
