"""A model for another channel count: the patch embedding (and the MAE's pixel head) mapped to new bands.

An encoder trained on ``S`` channels (RGB: 3) reused on ``C`` bands keeps every weight but the patch
projection ``(D, S, p, p)``, whose input filters are mapped, and the MAE decoder's pixel head
``decoder_pred`` (``p*p*S`` output rows, ordered ``(p, q, channel)``), whose output rows are mapped the
same way. Two rules:

- ``mean``: every band gets the mean of the ``S`` filters, rescaled by ``S / C`` (timm's
  ``adapt_input_conv`` repeats the RGB filters instead; the mean makes the rule exact where it can be): an
  image whose ``C`` bands are all equal to ``g`` embeds exactly as the ``S``-channel image whose channels
  all equal ``g``. Every predicted band is the mean of the predicted channels.
- a mapping ``band -> source channel`` (by name, e.g. ``B4:R,B3:G,B2:B``, or ``names``: bands called
  red / green / blue, r / g / b): a mapped band takes its channel's filter as it is and a band mapped to
  nothing starts at zero, so the model computes, on the mapped bands, exactly what the source model
  computed; fine-tuning or pretraining learns the new bands. Its predicted pixels are the mapped
  channel's (the mean for unmapped bands).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from colormae.errors import UserError

#: Source channel names of an RGB model and the band names that mean them (case-insensitive).
RGB_NAMES = ("R", "G", "B")
_ALIASES = {"r": 0, "red": 0, "g": 1, "green": 1, "b": 2, "blue": 2}
#: Values of ``init_channels`` besides an explicit ``BAND:R,...`` mapping.
MODES = ("mean", "names", "auto")
#: A mapping: for each of the ``C`` bands the source channel it takes, ``None`` for none (zero filter).
Mapping = list[int | None]


def _channel(text: str, spec: str) -> int:
    key = text.strip().lower()
    if key not in _ALIASES:
        raise UserError(f"init_channels={spec!r}: {text.strip()!r} is not an RGB channel (R, G, B, red, "
                        "green or blue)")
    return _ALIASES[key]


def parse_mapping(spec: str, band_names: Sequence[str] | None) -> Mapping:
    """``"B4:R,B3:G,B2:B"`` -> for each band of ``band_names`` (the data's stats file) its RGB channel."""
    if not band_names:
        raise UserError(f"init_channels={spec!r} maps bands by name, but the data's stats file names no "
                        "bands (write channel_names with `colormae data stats`), or use init_channels=mean")
    index = {str(n).strip().lower(): i for i, n in enumerate(band_names)}
    mapping: Mapping = [None] * len(band_names)
    for pair in spec.split(","):
        band, sep, channel = pair.partition(":")
        if not sep or band.strip().lower() not in index:
            raise UserError(f"init_channels={spec!r}: {pair.strip()!r} is not BAND:CHANNEL with a band of "
                            f"{', '.join(map(str, band_names))}")
        mapping[index[band.strip().lower()]] = _channel(channel, spec)
    return mapping


def names_mapping(band_names: Sequence[str] | None) -> Mapping | None:
    """Bands named red / green / blue (r / g / b) -> that channel; ``None`` when no band has such a name."""
    mapping: Mapping = [_ALIASES.get(str(n).strip().lower()) for n in band_names or ()]
    return mapping if any(m is not None for m in mapping) else None


def resolve_mapping(mode: str, channels: int, source_channels: int,
                    band_names: Sequence[str] | None = None) -> tuple[Mapping | None, str]:
    """The mapping of ``init_channels=mode`` (``None``: the ``mean`` rule) and the one line that says it.

    ``mode``: ``mean``, ``names`` (bands named red / green / blue; refused when none is), ``auto``
    (``names`` when some band is so named, else ``mean``) or an explicit ``BAND:R,BAND:G,...``.
    """
    if band_names is not None and len(band_names) != channels:
        band_names = None
    mapping: Mapping | None
    if ":" in mode:
        mapping = parse_mapping(mode, band_names)
    elif mode in ("names", "auto"):
        mapping = names_mapping(band_names)
        if mapping is None and mode == "names":
            raise UserError("init_channels=names: no band of the data is named red, green or blue "
                            f"({', '.join(map(str, band_names)) if band_names else 'no band names'}); "
                            "map them explicitly (init_channels=B4:R,B3:G,B2:B) or use init_channels=mean")
    elif mode == "mean":
        mapping = None
    else:
        raise UserError(f"init_channels={mode!r}: choose mean, names, auto or BAND:R,BAND:G,BAND:B")
    if mapping is not None and source_channels != 3:
        raise UserError(f"init_channels={mode!r} maps bands to R, G, B, but the checkpoint has "
                        f"{source_channels} channel(s); use init_channels=mean")
    return mapping, describe(mapping, channels, source_channels, band_names)


def describe(mapping: Mapping | None, channels: int, source_channels: int,
             band_names: Sequence[str] | None = None) -> str:
    """One line: how the ``source_channels`` filters became ``channels`` bands."""
    if mapping is None:
        return (f"patch embedding mapped from {source_channels} to {channels} channels: every band gets the "
                f"mean of the {source_channels} filters x {source_channels}/{channels}")
    names = list(band_names) if band_names else [f"band {i}" for i in range(channels)]
    pairs = [f"{n}<-{RGB_NAMES[m]}" if m is not None else f"{n}<-0"
             for n, m in zip(names, mapping, strict=True)]
    return (f"patch embedding mapped from RGB to {channels} bands ({', '.join(pairs)}; unmapped bands start "
            "at zero)")


def map_input_filters(weight: Tensor, channels: int, mapping: Mapping | None = None) -> Tensor:
    """Patch projection ``(D, S, p, p)`` -> ``(D, C, p, p)`` (module docstring)."""
    source = weight.shape[1]
    if mapping is None:
        mean = weight.mean(dim=1, keepdim=True) * (source / channels)
        return mean.expand(-1, channels, -1, -1).contiguous()
    out = weight.new_zeros(weight.shape[0], channels, *weight.shape[2:])
    for band, src in enumerate(mapping):
        if src is not None:
            out[:, band] = weight[:, src]
    return out


def map_output_rows(param: Tensor, channels: int, source_channels: int, mapping: Mapping | None = None
                    ) -> Tensor:
    """Pixel head rows ``(p*p*S[, Dd])`` -> ``(p*p*C[, Dd])``: a band's rows are its channel's, or the mean
    of the source channels' (``mean`` rule, unmapped bands)."""
    rows = param.reshape(-1, source_channels, *param.shape[1:])            # (p*p, S[, Dd])
    mean = rows.mean(dim=1)
    picked = [rows[:, m] if m is not None else mean for m in (mapping or [None] * channels)]
    return torch.stack(picked, dim=1).reshape(-1, *param.shape[1:]).contiguous()


#: Where the input filters and the pixel head sit in a :class:`~colormae.models.MaskedAutoencoder`.
PATCH_KEY = "encoder.patch_embed.proj.weight"
PRED_KEYS = ("decoder_pred.weight", "decoder_pred.bias")


def map_state_channels(state_dict: dict[str, Tensor], channels: int, mapping: Mapping | None = None, *,
                       patch_key: str = PATCH_KEY, pred_keys: Sequence[str] = PRED_KEYS) -> dict[str, Tensor]:
    """A copy of a state dict with its patch projection (``patch_key``) and pixel head (``pred_keys``,
    those present) mapped to ``channels``; every other entry shared."""
    out = dict(state_dict)
    source = out[patch_key].shape[1]
    if mapping is not None and len(mapping) != channels:
        raise UserError(f"a mapping of {len(mapping)} bands for {channels} channels")
    out[patch_key] = map_input_filters(out[patch_key], channels, mapping)
    for key in pred_keys:
        if key in out:
            out[key] = map_output_rows(out[key], channels, source, mapping)
    return out
