"""Renaming state-dict keys between our names and another project's, rule by rule, both ways.

A rule pairs a key prefix of ours with the other project's, ``{i}`` standing for a block index:
``("encoder.blocks.{i}.mlp.fc1", "backbone.layers.{i}.ffn.layers.0.0")`` maps
``encoder.blocks.3.mlp.fc1.weight`` to ``backbone.layers.3.ffn.layers.0.0.weight`` and back. A prefix
matches a whole key or a key continuing with ``.``, so ``encoder.norm`` never matches ``encoder.norm_pre``.
A fused rule pairs one prefix of ours with several of theirs whose tensors, concatenated along dim 0, make
ours: ``("encoder.blocks.{i}.attn.qkv", ("vit.layers.{i}.attention.q_proj", ...k_proj, ...v_proj))``.
Every layout (facebookresearch/mae, mmpretrain, timm, Hugging Face, mmseg) is one table of such rules.
Written by hand: no library knows the mmpretrain / facebookresearch/mae names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor

from colormae.convert.reading import ConversionError

MAX_LISTED = 5


def list_keys(keys: Iterable[str], limit: int = MAX_LISTED) -> str:
    """``"a, b, c (and 4 more)"``: the first few keys of a problem, for one-line error messages."""
    keys = sorted(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f" (and {len(keys) - limit} more)" if len(keys) > limit else "")


def _compile(prefix: str) -> re.Pattern[str]:
    body = re.escape(prefix).replace(r"\{i\}", r"(\d+)")
    return re.compile(f"^{body}(\\..+)?$")


class KeyMap:
    """Bidirectional prefix renaming; see the module docstring.

    Args:
        rules: ``(ours, theirs)`` prefix pairs.
        fused: ``(ours, (theirs, ...))``: our tensor is theirs concatenated along dim 0 (equal parts).
        ignore: prefixes of *their* keys that carry no weights we use (dropped on import).
        name: the other layout's name, for error messages.
    """

    def __init__(self, rules: Iterable[tuple[str, str]], *, fused: Iterable[tuple[str, tuple[str, ...]]] = (),
                 ignore: Iterable[str] = (), name: str = "") -> None:
        self.rules = [(ours, theirs, _compile(ours), _compile(theirs)) for ours, theirs in rules]
        self.fused = [(ours, parts, _compile(ours), [_compile(p) for p in parts]) for ours, parts in fused]
        self.ignore = tuple(ignore)
        self.name = name

    @staticmethod
    def _apply(key: str, pattern: re.Pattern[str], template: str) -> str | None:
        m = pattern.match(key)
        if m is None:
            return None
        groups = list(m.groups())
        suffix = groups.pop() or ""
        out = template
        for g in groups:
            out = out.replace("{i}", g, 1)
        return out + suffix

    def _split(self, key: str, value: Tensor) -> dict[str, Tensor] | None:
        """Ours -> theirs for a fused key: the parts of ``value`` under their names, or None."""
        for _, parts, p_ours, _ in self.fused:
            if p_ours.match(key):
                chunks = value.chunk(len(parts), dim=0)
                return {self._apply(key, p_ours, part): c for part, c in zip(parts, chunks, strict=True)}
        return None

    def _part(self, key: str) -> tuple[str, int, int] | None:
        """Theirs -> ours for one part of a fused key: ``(our key, part index, part count)``, or None."""
        for ours, parts, _, p_parts in self.fused:
            for j, pattern in enumerate(p_parts):
                new = self._apply(key, pattern, ours)
                if new is not None:
                    return new, j, len(parts)
        return None

    def _rename(self, sd: Mapping[str, Tensor], to_ours: bool) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        unknown = []
        pieces: dict[str, list[Tensor | None]] = {}
        for key, value in sd.items():
            if to_ours and key.startswith(self.ignore) and self.ignore:
                continue
            if to_ours and (part := self._part(key)) is not None:
                new, j, n = part
                pieces.setdefault(new, [None] * n)[j] = value
                continue
            if not to_ours and (split := self._split(key, value)) is not None:
                out.update(split)
                continue
            for ours, theirs, p_ours, p_theirs in self.rules:
                new = self._apply(key, p_theirs, ours) if to_ours else self._apply(key, p_ours, theirs)
                if new is not None:
                    out[new] = value
                    break
            else:
                unknown.append(key)
        if unknown:
            where = f"a {self.name} checkpoint" if to_ours else f"the {self.name} layout"
            raise ConversionError(f"{len(unknown)} key(s) have no counterpart in {where}: "
                                  f"{list_keys(unknown)}")
        incomplete = [k for k, parts in pieces.items() if any(p is None for p in parts)]
        if incomplete:
            raise ConversionError(f"{self.name} checkpoint: parts missing for {list_keys(incomplete)}")
        out.update({k: torch.cat(parts, dim=0) for k, parts in pieces.items()})  # type: ignore[arg-type]
        return out

    def to_ours(self, sd: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Their state dict -> ours; unknown keys raise :class:`ConversionError` listing them."""
        return self._rename(sd, to_ours=True)

    def from_ours(self, sd: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Our state dict -> theirs; keys without a rule raise :class:`ConversionError`."""
        return self._rename(sd, to_ours=False)
