"""Input normalisation: ImageNet statistics, the data set's own, or none — one typed object that travels
with the checkpoint.

``normalize`` settings:

* ``"imagenet"``: timm's ImageNet mean / std for 3 channels. For **1-channel** data the grey equivalent is
  used: the mean of the three means and of the three stds (0.449, 0.226), which is what a grey image
  replicated to RGB sees on average. Any other channel count is a :class:`UserError` (use ``dataset``).
* ``"dataset"``: the per-channel statistics of the data set, computed by ``colormae data stats DIR``
  (:mod:`colormae.data.stats`) and read from ``DIR/colormae_stats.json``; for the built-in data sets they
  are computed on the fly (they are small).
* ``"none"``: mean 0, std 1 (pixels stay in [0, 1] as scaled by their bit depth).
* ``"auto"`` (the default of the jobs): ``imagenet`` for 3-channel data and the built-in data sets,
  ``dataset`` otherwise.

:class:`Normalization` is stored in every checkpoint (``ckpt["data"]``, see :func:`data_payload`), with
whether the loss used normalised-pixel targets, so evaluation, conversion and figures use the same
statistics the model was trained with (:func:`normalization_from_checkpoint`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from colormae.errors import UserError

#: The normalisation settings a job takes (``auto`` resolves to one of the others).
NORMALIZE = ("auto", "imagenet", "dataset", "none")
IMAGENET_MEAN: tuple[float, ...] = tuple(IMAGENET_DEFAULT_MEAN)
IMAGENET_STD: tuple[float, ...] = tuple(IMAGENET_DEFAULT_STD)
#: ImageNet statistics for a single grey channel: the means of the RGB means and stds.
IMAGENET_GREY_MEAN: tuple[float] = (sum(IMAGENET_MEAN) / 3,)
IMAGENET_GREY_STD: tuple[float] = (sum(IMAGENET_STD) / 3,)


@dataclass(frozen=True)
class Normalization:
    """Per-channel ``(x - mean) / std`` applied to images scaled to [0, 1] by their bit depth.

    Attributes:
        mean, std: one value per channel.
        normalize: where they come from: ``"imagenet"``, ``"dataset"`` or ``"none"``.
        channel_names: optional band names (e.g. ``("B4", "B3", "B2", "B8")``), kept for figures.
        source: e.g. the stats file the values were read from.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    normalize: str = "imagenet"
    channel_names: tuple[str, ...] | None = None
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if self.channel_names is not None:
            object.__setattr__(self, "channel_names", tuple(str(n) for n in self.channel_names))
        if len(self.mean) != len(self.std) or not self.mean:
            raise UserError(f"normalisation needs one mean and one std per channel, got {len(self.mean)} "
                            f"means and {len(self.std)} stds")
        if any(s <= 0 for s in self.std):
            raise UserError(f"normalisation std must be positive, got {self.std}")
        if self.channel_names is not None and len(self.channel_names) != len(self.mean):
            raise UserError(f"{len(self.channel_names)} channel names for {len(self.mean)} channels")

    @property
    def channels(self) -> int:
        """Number of channels."""
        return len(self.mean)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON / checkpoint types (lists, strings, floats)."""
        return {"normalize": self.normalize, "channels": self.channels, "mean": list(self.mean),
                "std": list(self.std),
                "channel_names": list(self.channel_names) if self.channel_names else None,
                "source": self.source}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalization:
        """Inverse of :meth:`to_dict` (extra keys such as ``norm_pix_loss`` are ignored)."""
        names = d.get("channel_names")
        return cls(tuple(d["mean"]), tuple(d["std"]), d.get("normalize", "dataset"),
                   tuple(names) if names else None, d.get("source"))

    def describe(self) -> str:
        """One line, e.g. ``"dataset mean (0.12, 0.3) std (0.05, 0.1)"``."""
        fmt = ", ".join
        return (f"{self.normalize} mean ({fmt(f'{v:.4g}' for v in self.mean)}) "
                f"std ({fmt(f'{v:.4g}' for v in self.std)})")


def imagenet(channels: int = 3) -> Normalization:
    """ImageNet statistics for 3 channels, or their grey equivalent for 1 (module docstring)."""
    if channels == 3:
        return Normalization(IMAGENET_MEAN, IMAGENET_STD, "imagenet")
    if channels == 1:
        return Normalization(IMAGENET_GREY_MEAN, IMAGENET_GREY_STD, "imagenet")
    raise UserError(f"normalize=imagenet is defined for 3 channels (and 1, as grey); this data has "
                    f"{channels}: use normalize=dataset (after `colormae data stats DIR`) or normalize=none")


def identity(channels: int) -> Normalization:
    """Mean 0, std 1 for every channel (``normalize=none``)."""
    return Normalization((0.0,) * channels, (1.0,) * channels, "none")


def data_payload(norm: Normalization, *, norm_pix_loss: bool, img_size: Any = None) -> dict[str, Any]:
    """What a checkpoint stores under ``"data"``: the normalisation, whether the loss used normalised-pixel
    targets and the image size ``(H, W)`` it was trained at."""
    out = {**norm.to_dict(), "norm_pix_loss": bool(norm_pix_loss)}
    if img_size is not None:
        out["img_size"] = [int(v) for v in ((img_size, img_size) if isinstance(img_size, int) else img_size)]
    return out


def normalization_from_checkpoint(ckpt: dict[str, Any], channels: int | None = None) -> Normalization:
    """The checkpoint's :class:`Normalization`; checkpoints written before it was stored were trained
    with ImageNet statistics (grey equivalent for 1 channel)."""
    entry = ckpt.get("data")
    if isinstance(entry, dict) and "mean" in entry:
        return Normalization.from_dict(entry)
    if channels is None:
        channels = int((ckpt.get("model_config") or {}).get("in_chans", 3))
    return imagenet(channels) if channels in (1, 3) else identity(channels)
