"""``colormae convert --to onnx``: the encoder under onnxruntime, dynamic batch, metadata."""

import json

import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def test_onnx_encoder_matches_ours(tmp_path):
    from colormae.convert import export_colormae
    from colormae.export import convert
    from colormae.models import create_mae

    torch.manual_seed(0)
    mae = create_mae("mae_vit_micro_32px").eval()
    data = {"mean": [0.1, 0.2, 0.3], "std": [0.4, 0.5, 0.6], "normalize": "dataset", "norm_pix_loss": True}
    src = export_colormae(mae, tmp_path / "src.pt", data=data)
    dst = tmp_path / "encoder.onnx"
    convert(src, dst, to="onnx")
    meta = {p.key: p.value for p in onnx.load(str(dst)).metadata_props}
    assert json.loads(meta["colormae_img_size"]) == [32, 32]
    assert json.loads(meta["colormae_mean"]) == [0.1, 0.2, 0.3]
    assert json.loads(meta["colormae_std"]) == [0.4, 0.5, 0.6]
    assert json.loads(meta["colormae_data"])["normalize"] == "dataset"
    session = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
    for batch in (1, 3):  # the batch axis is dynamic
        x = torch.randn(batch, 3, 32, 32)
        (got,) = session.run(["tokens"], {"images": x.numpy()})
        with torch.no_grad():
            want = mae.forward_features(x)
        assert got.shape == (batch, 1 + 64, 64)
        torch.testing.assert_close(torch.from_numpy(got), want, rtol=0, atol=1e-4)
