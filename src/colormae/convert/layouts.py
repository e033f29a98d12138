"""The key layouts of facebookresearch/mae, mmpretrain (official ColorMAE) and timm, as :class:`KeyMap` s.

Ours (``colormae.models.MaskedAutoencoder``): ``encoder.*`` is a timm ``VisionTransformer`` state dict;
the decoder uses facebookresearch/mae's names (``decoder_embed``, ``mask_token``, ``decoder_pos_embed``,
``decoder_blocks.N.*`` as timm ``Block``, ``decoder_norm``, ``decoder_pred``).

- **mae** (facebookresearch/mae ``models_mae.py``, ``ckpt["model"]``): the same names with the
  encoder's at top level (``patch_embed.proj``, ``blocks.N``, ``norm``, ``cls_token``, ``pos_embed``).
- **mmpretrain** (``MAE`` = ``MAEViT`` backbone + ``MAEPretrainDecoder`` neck, ``ckpt["state_dict"]``):
  ``backbone.patch_embed.projection``, ``backbone.layers.N.{ln1, attn.qkv, attn.proj, ln2,
  ffn.layers.0.0, ffn.layers.1}``, final norm ``backbone.ln1``; ``neck.decoder_embed``,
  ``neck.mask_token``, ``neck.decoder_pos_embed``, ``neck.decoder_blocks.N.*`` (same layer names),
  decoder norm ``neck.ln1``, ``neck.decoder_pred``.
- **timm** (a plain ``VisionTransformer``): the encoder only; a classifier ``head`` / ``fc_norm`` is dropped.
- **mmseg** (mmseg's ``MAE`` backbone, ``mmseg/models/backbones/mae.py``): mmpretrain's encoder names
  without ``backbone.`` and without the final norm (``final_norm=False``); export only
  (:mod:`colormae.convert.mmseg_layout` writes the file).
"""

from __future__ import annotations

from colormae.convert.keymap import KeyMap

_TIMM_BLOCK = ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2")
_MM_BLOCK = ("ln1", "attn.qkv", "attn.proj", "ln2", "ffn.layers.0.0", "ffn.layers.1")

_ENCODER_TOP = ("cls_token", "pos_embed", "patch_embed.proj", "norm")
_DECODER_TOP = ("decoder_embed", "mask_token", "decoder_pos_embed", "decoder_norm", "decoder_pred")


def _block_rules(ours: str, theirs: str, their_names: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = zip(_TIMM_BLOCK, their_names, strict=True)
    return [(f"{ours}.{{i}}.{a}", f"{theirs}.{{i}}.{b}") for a, b in pairs]


def _mae_rules() -> list[tuple[str, str]]:
    rules = [(f"encoder.{k}", k) for k in _ENCODER_TOP]
    rules += _block_rules("encoder.blocks", "blocks", _TIMM_BLOCK)
    rules += [(k, k) for k in _DECODER_TOP]
    rules += _block_rules("decoder_blocks", "decoder_blocks", _TIMM_BLOCK)
    return rules


def _mmpretrain_rules() -> list[tuple[str, str]]:
    rules = [
        ("encoder.cls_token", "backbone.cls_token"),
        ("encoder.pos_embed", "backbone.pos_embed"),
        ("encoder.patch_embed.proj", "backbone.patch_embed.projection"),
        ("encoder.norm", "backbone.ln1"),
    ]
    rules += _block_rules("encoder.blocks", "backbone.layers", _MM_BLOCK)
    rules += [
        ("decoder_embed", "neck.decoder_embed"),
        ("mask_token", "neck.mask_token"),
        ("decoder_pos_embed", "neck.decoder_pos_embed"),
        ("decoder_norm", "neck.ln1"),
        ("decoder_pred", "neck.decoder_pred"),
    ]
    rules += _block_rules("decoder_blocks", "neck.decoder_blocks", _MM_BLOCK)
    return rules


def _mmseg_rules() -> list[tuple[str, str]]:
    rules = [("encoder.cls_token", "cls_token"), ("encoder.pos_embed", "pos_embed"),
             ("encoder.patch_embed.proj", "patch_embed.projection")]
    return rules + _block_rules("encoder.blocks", "layers", _MM_BLOCK)


def _timm_rules() -> list[tuple[str, str]]:
    return [(f"encoder.{k}", k) for k in _ENCODER_TOP] + _block_rules("encoder.blocks", "blocks", _TIMM_BLOCK)


#: facebookresearch/mae pretraining checkpoints (``ckpt["model"]``).
MAE = KeyMap(_mae_rules(), name="facebookresearch/mae")
#: mmpretrain / official ColorMAE checkpoints (``ckpt["state_dict"]``); the data preprocessor's
#: mean/std buffers and the parameter-free MAE head are not weights of the model.
MMPRETRAIN = KeyMap(_mmpretrain_rules(), ignore=("data_preprocessor.", "head."), name="mmpretrain")
#: A timm ``VisionTransformer`` (encoder only); classifier heads are dropped on import.
TIMM = KeyMap(_timm_rules(), ignore=("head.", "head_drop.", "fc_norm."), name="timm ViT")

#: mmseg's ``MAE`` backbone (the encoder without its final norm); ``attn.qkv`` keeps its full bias.
MMSEG = KeyMap(_mmseg_rules(), name="mmseg MAE backbone")

LAYOUTS = {"mae": MAE, "mmpretrain": MMPRETRAIN, "timm": TIMM, "mmseg": MMSEG}
