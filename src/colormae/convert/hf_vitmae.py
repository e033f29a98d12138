"""Our MAE state dict <-> Hugging Face ``ViTMAEForPreTraining``.

The two models compute the same function (MAE: pre-norm ViT blocks, exact GELU, fixed 2-D sin-cos
position embeddings, normalized-pixel loss); only parameter names differ, and timm keeps the attention
input projection as one fused ``qkv`` Linear where HF has three (``q_proj``, ``k_proj``, ``v_proj``), so
the conversion concatenates / splits them along the output dimension (fused rules of
:class:`colormae.convert.keymap.KeyMap`: one declared table per transformers layout). Both HF key layouts
are read: transformers >= 5 (``vit.layers.{i}.attention.q_proj``, ``mlp.fc1``) and 4.x
(``vit.encoder.layer.{i}.attention.attention.query``, ``intermediate.dense``); writing uses the
installed transformers' layout unless told otherwise. ``transformers`` is imported lazily (a dev extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from colormae.convert.keymap import KeyMap
from colormae.errors import UserError
from colormae.extras import require
from colormae.models.config import MAEConfig
from colormae.models.mae import MaskedAutoencoder

# Per-block names: ours (timm) -> HF (transformers >= 5) and HF 4.x.
_BLOCK = {  # ours: (hf5, hf4)
    "norm1": ("layernorm_before", "layernorm_before"),
    "norm2": ("layernorm_after", "layernorm_after"),
    "attn.proj": ("attention.o_proj", "attention.output.dense"),
    "mlp.fc1": ("mlp.fc1", "intermediate.dense"),
    "mlp.fc2": ("mlp.fc2", "output.dense"),
}
_QKV = {5: ("attention.q_proj", "attention.k_proj", "attention.v_proj"),
        4: ("attention.attention.query", "attention.attention.key", "attention.attention.value")}
# Whole-model names: ours -> HF (the same in both layouts).
_SINGLE = {
    "encoder.cls_token": "vit.embeddings.cls_token",
    "encoder.pos_embed": "vit.embeddings.position_embeddings",
    "encoder.patch_embed.proj.weight": "vit.embeddings.patch_embeddings.projection.weight",
    "encoder.patch_embed.proj.bias": "vit.embeddings.patch_embeddings.projection.bias",
    "encoder.norm.weight": "vit.layernorm.weight",
    "encoder.norm.bias": "vit.layernorm.bias",
    "mask_token": "decoder.mask_token",
    "decoder_pos_embed": "decoder.decoder_pos_embed",
    "decoder_embed.weight": "decoder.decoder_embed.weight",
    "decoder_embed.bias": "decoder.decoder_embed.bias",
    "decoder_norm.weight": "decoder.decoder_norm.weight",
    "decoder_norm.bias": "decoder.decoder_norm.bias",
    "decoder_pred.weight": "decoder.decoder_pred.weight",
    "decoder_pred.bias": "decoder.decoder_pred.bias",
}
def _keymap(version: int) -> KeyMap:
    """Ours <-> the HF layout of transformers ``version`` (4 or 5) as one :class:`KeyMap` table."""
    v = 0 if version >= 5 else 1
    rules = list(_SINGLE.items())
    fused = []
    for ours, theirs in (("encoder.blocks", "vit.layers" if version >= 5 else "vit.encoder.layer"),
                         ("decoder_blocks", "decoder.decoder_layers")):
        rules += [(f"{ours}.{{i}}.{a}", f"{theirs}.{{i}}.{b[v]}") for a, b in _BLOCK.items()]
        parts = tuple(f"{theirs}.{{i}}.{n}" for n in _QKV[5 if v == 0 else 4])
        fused.append((f"{ours}.{{i}}.attn.qkv", parts))
    return KeyMap(rules, fused=fused, name=f"Hugging Face ViTMAE (transformers {5 if v == 0 else 4})")


_KEYMAPS = {5: _keymap(5), 4: _keymap(4)}


def _installed_version() -> int:
    transformers = require("transformers", extra="hf", feature="Hugging Face ViTMAE")
    return int(transformers.__version__.split(".")[0])


def _hf_layout(sd: dict[str, Tensor]) -> int:
    """4 or 5: which transformers key layout a HF state dict uses."""
    return 4 if any(k.startswith("vit.encoder.layer.") or ".attention.attention." in k for k in sd) else 5


def to_hf_state_dict(model: MaskedAutoencoder | dict[str, Tensor], *, version: int | None = None) -> dict:
    """Our model (or its state dict) as a ``ViTMAEForPreTraining`` state dict.

    Args:
        model: a :class:`MaskedAutoencoder` or its ``state_dict()``.
        version: transformers major version whose key layout to write (4 or 5); default: the installed one.
    """
    sd = model.state_dict() if isinstance(model, torch.nn.Module) else model
    version = _installed_version() if version is None else version
    return {k: v.clone() for k, v in _KEYMAPS[5 if version >= 5 else 4].from_ours(sd).items()}


def _depth(sd: dict[str, Tensor], stack: str) -> int:
    return sum(1 for k in sd if k.startswith(f"{stack}.") and k.endswith(".norm1.weight"))


def from_hf_state_dict(sd: dict[str, Tensor], config: MAEConfig | None = None) -> dict[str, Tensor]:
    """A ``ViTMAEForPreTraining`` state dict (either key layout) as our state dict.

    Args:
        sd: HF state dict (``vit.*`` and ``decoder.*`` keys).
        config: when given, the block counts are checked against it.
    """
    for hf in _SINGLE.values():
        if hf not in sd:
            raise UserError(f"not a Hugging Face ViTMAEForPreTraining state dict: {hf!r} is missing")
    out = _KEYMAPS[_hf_layout(sd)].to_ours(sd)
    depths = (_depth(out, "encoder.blocks"), _depth(out, "decoder_blocks"))
    if config is not None and depths != (config.depth, config.decoder_depth):
        raise UserError(f"the Hugging Face state dict has {depths[0]} encoder / {depths[1]} decoder blocks; "
                        f"the config says {config.depth} / {config.decoder_depth}")
    return out


def hf_config(config: MAEConfig, *, mask_ratio: float = 0.75) -> Any:
    """The ``transformers.ViTMAEConfig`` of the same architecture (``layer_norm_eps`` included)."""
    ViTMAEConfig = require("transformers", extra="hf", feature="Hugging Face ViTMAE").ViTMAEConfig

    return ViTMAEConfig(
        hidden_size=config.embed_dim, num_hidden_layers=config.depth, num_attention_heads=config.num_heads,
        intermediate_size=int(config.embed_dim * config.mlp_ratio), hidden_act="gelu",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, layer_norm_eps=config.layer_norm_eps,
        image_size=config.img_size, patch_size=config.patch_size, num_channels=config.in_chans,
        qkv_bias=True, decoder_num_attention_heads=config.decoder_num_heads,
        decoder_hidden_size=config.decoder_embed_dim, decoder_num_hidden_layers=config.decoder_depth,
        decoder_intermediate_size=int(config.decoder_embed_dim * config.mlp_ratio),
        mask_ratio=mask_ratio, norm_pix_loss=config.norm_pix_loss,
    )


#: ``ViTMAEConfig``'s default LayerNorm epsilon (used when a ``config.json`` does not say).
HF_LAYER_NORM_EPS = 1e-12


def config_from_hf(cfg: Any) -> MAEConfig:
    """Our :class:`MAEConfig` from a ``ViTMAEConfig`` or its ``config.json`` dict.

    ``layer_norm_eps`` is carried over (HF's default is 1e-12, ours 1e-6: with a different epsilon the
    outputs would differ). Configs our MAE cannot compute exactly (another activation, no qkv bias) are
    refused.
    """
    c = cfg if isinstance(cfg, dict) else cfg.to_dict()
    if c.get("hidden_act", "gelu") != "gelu" or not c.get("qkv_bias", True):
        raise UserError(f"Hugging Face config: hidden_act={c.get('hidden_act')!r}, "
                        f"qkv_bias={c.get('qkv_bias')!r}; our MAE computes exact GELU with qkv bias only")
    try:
        hidden, dec = int(c["hidden_size"]), int(c["decoder_hidden_size"])
        mlp_ratio = int(c["intermediate_size"]) / hidden
        if int(c["decoder_intermediate_size"]) / dec != mlp_ratio:
            raise UserError("Hugging Face config: the decoder MLP ratio differs from the encoder's; "
                            "our MAE uses one mlp_ratio for both")
        image_size = c["image_size"]
        return MAEConfig(
            img_size=tuple(image_size) if isinstance(image_size, list | tuple) else int(image_size),
            patch_size=int(c["patch_size"]), in_chans=int(c.get("num_channels", 3)), embed_dim=hidden,
            depth=int(c["num_hidden_layers"]), num_heads=int(c["num_attention_heads"]), mlp_ratio=mlp_ratio,
            decoder_embed_dim=dec, decoder_depth=int(c["decoder_num_hidden_layers"]),
            decoder_num_heads=int(c["decoder_num_attention_heads"]),
            norm_pix_loss=bool(c.get("norm_pix_loss", False)),
            layer_norm_eps=float(c.get("layer_norm_eps", HF_LAYER_NORM_EPS)),
        )
    except KeyError as err:
        raise UserError(f"Hugging Face ViTMAE config lacks {err.args[0]!r}") from None


def state_dict_from_hf(sd: dict[str, Tensor], config: Any | None = None) -> tuple[dict, MAEConfig | None]:
    """``(our state dict, our config or None)`` from a HF state dict and, when known, its config."""
    ours_cfg = None if config is None else config_from_hf(config)
    return from_hf_state_dict(sd, ours_cfg), ours_cfg


def to_hf_model(model: MaskedAutoencoder, *, mask_ratio: float = 0.75) -> Any:
    """A ``ViTMAEForPreTraining`` holding ``model``'s weights (CPU, eval mode)."""
    transformers = require("transformers", extra="hf", feature="Hugging Face ViTMAE")
    hf = transformers.ViTMAEForPreTraining(hf_config(model.config, mask_ratio=mask_ratio))
    hf.load_state_dict(to_hf_state_dict(model), strict=True)
    return hf.eval()


def save_hf_folder(model: MaskedAutoencoder, dst: str | Path) -> Path:
    """Write ``model`` as a HF ``save_pretrained`` folder (``config.json`` + ``model.safetensors``)."""
    dst = Path(dst)
    to_hf_model(model).save_pretrained(dst)
    return dst
