"""The encoder as an ONNX model: ``colormae convert CKPT -o encoder.onnx --to onnx``.

``images (B, C, H, W)`` (normalised as in pretraining, H x W the checkpoint's image size) -> ``tokens
(B, 1 + N, D)``: the [CLS] token then the N patch tokens after the final norm, no masking (the
encoder's ``forward_features``). The batch axis is dynamic. The model's ``metadata_props`` say how to feed
it: ``colormae_img_size`` (``[H, W]``), ``colormae_mean`` / ``colormae_std`` (per channel, on 0..1 pixels),
``colormae_patch_size``, ``colormae_data`` (the checkpoint's whole ``"data"`` entry, JSON).

Written with ``torch.onnx.export`` (TorchScript exporter, ``dynamo=False``: no onnxscript needed) and
``onnx`` for the metadata; both are imported lazily (``pip install "colormae[onnx]"`` installs them).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from colormae.extras import require
from colormae.models import MaskedAutoencoder

#: ONNX operator set the encoder is written with.
OPSET = 17


class _Encoder(nn.Module):
    """``images (B, C, H, W) -> tokens (B, 1 + N, D)``: the MAE encoder without masking."""

    def __init__(self, mae: MaskedAutoencoder) -> None:
        super().__init__()
        self.mae = mae

    def forward(self, images: Tensor) -> Tensor:
        return self.mae.forward_features(images)


def onnx_metadata(model: MaskedAutoencoder, data: dict[str, Any] | None) -> dict[str, str]:
    """The ``metadata_props`` written into the ONNX model (string values)."""
    data = data or {}
    meta = {"colormae_img_size": json.dumps(list(model.config.image_hw)),
            "colormae_patch_size": str(model.config.patch_size),
            "colormae_output": "tokens (B, 1 + N, D): [CLS] then patch tokens, final norm applied",
            "colormae_data": json.dumps(data)}
    if "mean" in data:
        meta["colormae_mean"] = json.dumps(data["mean"])
    if "std" in data:
        meta["colormae_std"] = json.dumps(data["std"])
    return meta


def export_onnx(model: MaskedAutoencoder, dst: str | Path, *, data: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s encoder to ``dst`` (see the module docstring)."""
    onnx = require("onnx", extra="onnx", feature="--to onnx")
    from colormae.files import atomic_path

    dst = Path(dst)
    h, w = model.config.image_hw
    example = torch.zeros(1, model.config.in_chans, h, w)
    encoder = _Encoder(model).eval()
    with atomic_path(dst) as tmp, torch.no_grad(), warnings.catch_warnings():
        # timm's shape checks are Python conditions on fixed sizes: the tracer's notes about them are noise
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(encoder, (example,), str(tmp), input_names=["images"], output_names=["tokens"],
                          dynamic_axes={"images": {0: "batch"}, "tokens": {0: "batch"}}, opset_version=OPSET,
                          dynamo=False)
        proto = onnx.load(str(tmp))
        onnx.helper.set_model_props(proto, onnx_metadata(model, data))
        onnx.save(proto, str(tmp))
    return dst
