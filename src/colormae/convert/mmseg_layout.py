"""Our encoder in the key layout of mmseg's MAE backbone (``mmseg/models/backbones/mae.py``), for users of
the official ColorMAE dense stack (what its ``tools/model_converters/mmpre2mmseg.py`` produces).

mmseg's ``MAE`` is its ``BEiT`` backbone with absolute position embeddings: ``patch_embed.projection``
(a conv), ``cls_token``, ``pos_embed`` (resized by mmseg on load), and per block ``layers.{i}.ln1``,
``attn.qkv`` (weight only), ``attn.q_bias`` and ``attn.v_bias`` (BEiT keeps no key bias), ``attn.proj``,
``ln2``, ``ffn.layers.0.0`` (fc1) and ``ffn.layers.1`` (fc2); ``gamma_1`` / ``gamma_2`` (layer scale) are
not in a pretrained encoder and start at mmseg's ``init_values``; the final norm is unused
(``final_norm=False``) and left out.

A timm ``qkv.bias`` is split into ``q_bias`` and ``v_bias``; its key third is dropped, which changes
nothing: a bias added to every key shifts all of a query's attention logits by the same amount, and the
softmax ignores that.
"""

from __future__ import annotations

from torch import Tensor, nn

#: timm block key suffix -> mmseg block key suffix.
BLOCK_KEYS = {
    "norm1.weight": "ln1.weight", "norm1.bias": "ln1.bias",
    "attn.qkv.weight": "attn.qkv.weight",
    "attn.proj.weight": "attn.proj.weight", "attn.proj.bias": "attn.proj.bias",
    "norm2.weight": "ln2.weight", "norm2.bias": "ln2.bias",
    "mlp.fc1.weight": "ffn.layers.0.0.weight", "mlp.fc1.bias": "ffn.layers.0.0.bias",
    "mlp.fc2.weight": "ffn.layers.1.weight", "mlp.fc2.bias": "ffn.layers.1.bias",
}


def mmseg_state_dict(mae: nn.Module, *, prefix: str = "") -> dict[str, Tensor]:
    """``mae.encoder`` (a timm ViT) as mmseg ``MAE`` backbone keys (``prefix`` e.g. ``"backbone."``).

    Tensors are shared with the model (clone them to keep a copy)."""
    enc = mae.encoder.state_dict()
    out: dict[str, Tensor] = {
        "cls_token": enc["cls_token"],
        "pos_embed": enc["pos_embed"],
        "patch_embed.projection.weight": enc["patch_embed.proj.weight"],
        "patch_embed.projection.bias": enc["patch_embed.proj.bias"],
    }
    depth = len(mae.encoder.blocks)
    for i in range(depth):
        for src, dst in BLOCK_KEYS.items():
            out[f"layers.{i}.{dst}"] = enc[f"blocks.{i}.{src}"]
        q, _, v = enc[f"blocks.{i}.attn.qkv.bias"].chunk(3)
        out[f"layers.{i}.attn.q_bias"] = q
        out[f"layers.{i}.attn.v_bias"] = v
    return {prefix + k: v for k, v in out.items()}
