"""The encoder a dense job (segment, detect) starts from, fitted to its data: channel count and
normalisation, the same rules as the evaluation jobs (:func:`colormae.loading.load_for_data`,
:func:`colormae.eval.probes.eval_normalization`).

Channels: the images are read at the checkpoint's channel count when they convert to it conventionally
(grey -> RGB, RGBA -> RGB; a 4-band TIFF / ``.npy`` folder or 4-band scenes read as RGB drop band 4 with a
warning); with ``init_channels`` and another count the patch embedding is mapped to the data's bands
(:func:`colormae.loading.adapt_channels`, band names from the data's stats file); any other mismatch is
one line saying to pass ``init_channels``.

Normalisation: ``normalize=auto`` uses the statistics the checkpoint was trained with, except for
``random:<preset>`` and a mapped encoder, which take the data's
(:func:`colormae.dense.inputs.data_normalization`: ImageNet for 3 channels, else the data set's);
``imagenet`` / ``dataset`` / ``none`` are the data's.
"""

from __future__ import annotations

from typing import Any

from colormae.data.normalization import Normalization
from colormae.errors import UserError


def dense_encoder(ckpt: str, data: str, source: Any, *, init_channels: str | None = None,
                  normalize: str = "auto", seed: int = 0, progress: bool = True, say: bool = True
                  ) -> tuple[Any, Normalization]:
    """``(Loaded, Normalization)``: ``ckpt`` loaded (and mapped to ``source``'s bands where asked) and the
    normalisation of the images it gets; ``source`` is the train split of ``data`` (module docstring).
    ``say``: write the mapping line and warnings (the main rank)."""
    from colormae.data.normalization import normalization_from_checkpoint
    from colormae.data.readers import can_convert
    from colormae.dense.inputs import data_normalization, dropped_band_warning
    from colormae.loading import adapt_channels, load
    from colormae.progress import warn, write

    loaded = load(ckpt, seed=seed)
    have, channels = int(source.channels), loaded.in_chans
    if have != channels and init_channels:
        norm = data_normalization(normalize, have, data, source, progress=progress, say=say)
        adapt_channels(loaded, have, init_channels, band_names=norm.channel_names)
        if say:
            write(f"{loaded.name}: {loaded.channel_map}")
        return loaded, norm
    if not can_convert(have, channels):
        raise UserError(f"{data}: its images have {have} channel(s) but {loaded.name} takes {channels}; pass "
                        f"init_channels=mean (or names, auto, BAND:R,BAND:G,BAND:B) to map its patch "
                        f"embedding to {have} bands")
    line = dropped_band_warning(source, channels)
    if line and say:
        warn(line)
    if normalize == "auto" and loaded.kind != "random":
        return loaded, normalization_from_checkpoint(loaded.checkpoint, channels)
    return loaded, data_normalization(normalize, channels, data, source, progress=progress, say=say)


def figure_bands(text: str | None, channels: int) -> tuple[int, ...]:
    """The bands a dense figure shows (``bands=3,2,1``: 1-based, three as RGB or one as grey), checked
    against the ``channels`` the model sees, before training; default: the first three, or band 1 of
    fewer."""
    from colormae.viz.display import parse_bands

    bands = parse_bands(text) or ((1, 2, 3) if channels >= 3 else (1,))
    bad = [b for b in bands if not 1 <= b <= channels]
    if bad:
        raise UserError(f"bands={text}: band {bad[0]} does not exist, the model's images have {channels} "
                        "band(s) (numbered from 1)")
    return bands
