"""Recovering an :class:`~colormae.models.MAEConfig` from the shapes in a state dict (our key names).

Widths, depths, patch size, channels, image size (square grid assumed) and MLP ratio follow from tensor
shapes. Head counts do not: they are taken, in this order, from ``overrides`` (``num_heads=...``), from
*hints* (partial configs: the checkpoint's own metadata, see :func:`metadata_hints`) and from the presets,
the first whose shapes match the part concerned (encoder: patch size, width, depth, MLP ratio; decoder:
width, depth); failing all, they are guessed as 64-wide heads (ViT-Ti/S/B/L; ViT-H uses 80, the paper's
decoder 32). Where a head count did not come from ``overrides`` a note says where it came from, and a
guess says that it is one: a wrong head count loads without error and computes something else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from torch import Tensor

from colormae.convert.reading import ConversionError
from colormae.models import PRESETS, MAEConfig

_KNOWN_HEADS = {1280: 16}           # ViT-H/14: 80-wide heads
_KNOWN_DECODER_HEADS = {512: 16}    # the paper's decoder: 512 wide, 16 heads
#: The shape fields a head count must agree with, per part.
_PARTS = {"num_heads": ("patch_size", "embed_dim", "depth", "mlp_ratio"),
          "decoder_num_heads": ("decoder_embed_dim", "decoder_depth")}
_FLAGS = {"num_heads": "--num-heads", "decoder_num_heads": "--decoder-num-heads"}
#: ``MAEPretrainDecoder`` arguments in an mmengine config dump -> our names.
_MM_DECODER_ARGS = {"decoder_embed_dim": "decoder_embed_dim", "decoder_depth": "decoder_depth",
                    "decoder_num_heads": "decoder_num_heads"}

#: A partial config to take head counts from: ``(where it comes from, {field: value})``.
Hint = tuple[str, Mapping[str, Any]]


@dataclass
class Inference:
    """An inferred config and what the user should know about it (where head counts came from)."""

    config: MAEConfig
    notes: list[str] = field(default_factory=list)


def _count_blocks(sd: dict[str, Tensor], prefix: str) -> int:
    pat = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.")
    ids = {int(m.group(1)) for k in sd if (m := pat.match(k))}
    return max(ids) + 1 if ids else 0


def _need(sd: dict[str, Tensor], key: str) -> Tensor:
    if key not in sd:
        raise ConversionError(f"cannot infer the model shape: key {key!r} is missing")
    return sd[key]


def _shapes(sd: dict[str, Tensor], with_decoder: bool) -> dict[str, Any]:
    proj = _need(sd, "encoder.patch_embed.proj.weight")          # (D, C, p, p)
    embed_dim, in_chans, patch, _ = proj.shape
    pos = _need(sd, "encoder.pos_embed")                          # (1, 1 + L, D)
    side = math.isqrt(pos.shape[1] - 1)
    if side * side != pos.shape[1] - 1:
        raise ConversionError(f"encoder.pos_embed has {pos.shape[1] - 1} patch positions, not a square grid; "
                              "pass the model config explicitly")
    fc1 = _need(sd, "encoder.blocks.0.mlp.fc1.weight")            # (hidden, D)
    ratio = fc1.shape[0] / embed_dim
    shape: dict[str, Any] = {
        "img_size": side * patch, "patch_size": patch, "in_chans": in_chans, "embed_dim": embed_dim,
        "depth": _count_blocks(sd, "encoder.blocks"),
        "mlp_ratio": float(int(ratio)) if ratio == int(ratio) else ratio,
    }
    if with_decoder:
        shape["decoder_embed_dim"] = _need(sd, "decoder_embed.weight").shape[0]
        shape["decoder_depth"] = _count_blocks(sd, "decoder_blocks")
    return shape


def _guess(name: str, width: int) -> int:
    known = _KNOWN_HEADS if name == "num_heads" else _KNOWN_DECODER_HEADS
    return known.get(width, max(width // 64, 1))


def _fits(hint: Mapping[str, Any], name: str, shape: Mapping[str, Any]) -> bool:
    """Whether ``hint`` gives head count ``name`` and agrees with every shape field of that part it states."""
    return name in hint and all(hint[k] == shape[k] for k in _PARTS[name] if k in hint and k in shape)


def infer(sd: dict[str, Tensor], *, with_decoder: bool = True, hints: Sequence[Hint] = (),
          **overrides: Any) -> Inference:
    """The :class:`MAEConfig` whose :class:`MaskedAutoencoder` has ``sd``'s shapes, and notes on its
    head counts (see the module docstring).

    With ``with_decoder=False`` (an encoder-only source such as a timm ViT) the decoder sizes come from
    ``overrides``, a preset with the same encoder, or the paper's defaults (8 blocks x 512, 16 heads); that
    decoder is freshly initialised, so its head count gets no note.
    """
    known = {f.name for f in fields(MAEConfig)}
    bad = sorted(set(overrides) - known)
    if bad:
        raise ConversionError(f"unknown model config key(s): {', '.join(bad)}")
    shape = _shapes(sd, with_decoder)
    candidates = [*hints, *((f"preset {name}", asdict(cfg)) for name, cfg in PRESETS.items())]
    if not with_decoder:
        same = next((c for _, c in candidates if all(c.get(k) == v for k, v in shape.items())), None)
        source = same or asdict(MAEConfig())
        shape.update({k: source[k] for k in ("decoder_embed_dim", "decoder_depth", "decoder_num_heads")})
    taken: dict[str, list[str]] = {}
    guessed: list[str] = []
    for name in _PARTS if with_decoder else ("num_heads",):
        if name in overrides:
            continue
        found = next(((label, hint) for label, hint in candidates if _fits(hint, name, shape)), None)
        if found is not None:
            shape[name] = int(found[1][name])
            taken.setdefault(found[0], []).append(f"{name}={shape[name]}")
        else:
            width = shape["embed_dim" if name == "num_heads" else "decoder_embed_dim"]
            shape[name] = _guess(name, width)
            guessed.append(f"{name}={shape[name]} ({width // shape[name]}-wide heads)")
    notes = [f"head counts are not stored in weights: {', '.join(v)} taken from {label} (same shapes)"
             for label, v in taken.items()]
    if guessed:
        flags = " / ".join(_FLAGS[g.split("=")[0]] for g in guessed)
        notes.append(f"GUESSED head counts: {', '.join(guessed)}: no preset or config has these shapes and "
                     f"weights do not store heads; if the source used others, pass {flags}")
    return Inference(replace(MAEConfig(), **{**shape, **overrides}), notes)


def infer_config(sd: dict[str, Tensor], *, with_decoder: bool = True, hints: Sequence[Hint] = (),
                 **overrides: Any) -> MAEConfig:
    """:func:`infer` without the notes."""
    return infer(sd, with_decoder=with_decoder, hints=hints, **overrides).config


def metadata_hints(raw: Mapping[str, Any]) -> list[Hint]:
    """Head-count hints a foreign checkpoint carries besides its weights.

    - facebookresearch/mae: ``ckpt["args"].model``, a model name that is one of our preset names.
    - mmengine (official ColorMAE): ``ckpt["meta"]["cfg"]``, the training config as text, whose
      ``MAEPretrainDecoder`` arguments name ``decoder_num_heads`` (and its width and depth).
    """
    hints: list[Hint] = []
    args = raw.get("args")
    model = getattr(args, "model", None)
    if model is None:  # a Namespace read by the restricted unpickler is an inert object holding its state
        state = getattr(args, "state", None)
        model = state.get("model") if isinstance(state, dict) else None
    if isinstance(model, str) and model in PRESETS:
        hints.append((f"the checkpoint's args.model={model}", asdict(PRESETS[model])))
    meta = raw.get("meta")
    cfg = meta.get("cfg") if isinstance(meta, dict) else None
    if isinstance(cfg, str):
        found = {ours: int(m.group(1)) for theirs, ours in _MM_DECODER_ARGS.items()
                 if (m := re.search(rf"\b{theirs}\s*=\s*(\d+)", cfg))}
        if "decoder_num_heads" in found:
            hints.append(("the checkpoint's meta.cfg", found))
    return hints
