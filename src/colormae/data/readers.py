"""Image files as the data has them: 8- and 16-bit PNG / TIFF, grayscale, RGBA, multi-band TIFF, ``.npy``.

Three readers, each a maintained library:

* **Pillow** for PNG, JPEG and the other photo formats (8-bit modes, and 16-bit grayscale ``I;16``);
* **tifffile** (installed with scikit-image) for ``.tif`` / ``.tiff``: any band count, 8/16-bit integer
  or float samples, contiguous ``(H, W, S)`` or planar ``(S, H, W)`` layouts; Pillow is the fallback for
  TIFF compressions tifffile cannot decode without imagecodecs (e.g. LZW);
* **OpenCV** (installed with grad-cam) for 16-bit *colour* PNGs, which Pillow silently cuts to 8 bits;
* **numpy** for ``.npy`` arrays ``(H, W)``, ``(C, H, W)`` or ``(H, W, C)``: the channel axis is the
  smaller of the first and last (a tie reads as ``(C, H, W)``).

:func:`probe` reads only a file's header and gives its :class:`ImageInfo` (channels, bit depth), so a
folder can be checked up front. :func:`read_image` gives a ``PIL.Image`` for 8-bit photo modes (so PIL
transforms such as timm's RandAugment keep working) and otherwise a float tensor ``(C, H, W)`` scaled by
the bit depth (integers divided by their maximum, floats as stored); :func:`to_tensor` turns either into
that float tensor. :func:`adapt_channels` converts between channel counts only where the conversion is
the conventional lossless one (see :data:`CONVERTIBLE`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.datasets.folder import IMG_EXTENSIONS

from colormae.errors import UserError
from colormae.extras import require

#: File name endings read as images (torchvision's list, which holds .tif / .tiff, plus .npy).
EXTENSIONS: tuple[str, ...] = (*IMG_EXTENSIONS, ".npy")
TIFF = (".tif", ".tiff")
#: Channel conversions done silently, ``(file channels, wanted channels)``: grey -> RGB by repeating the
#: channel (what every photo pipeline does with grayscale JPEGs), and dropping an alpha channel
#: (grey+alpha -> grey or RGB, RGBA -> RGB). Anything else is a mismatch.
CONVERTIBLE: frozenset[tuple[int, int]] = frozenset({(1, 3), (2, 1), (2, 3), (4, 3)})
#: Pillow modes -> the mode an 8-bit image is read in (colour models become RGB; palettes RGB / RGBA).
_PIL_MODES = {"1": "L", "L": "L", "LA": "LA", "La": "LA", "RGB": "RGB", "RGBX": "RGB", "RGBA": "RGBA",
              "RGBa": "RGBA", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB", "PA": "RGBA"}
_MODE_CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}
_CHANNEL_MODES = {v: k for k, v in _MODE_CHANNELS.items()}


class UnreadableImage(OSError):
    """A file that is not a readable image (or not one colormae can read without losing data)."""


@dataclass(frozen=True)
class ImageInfo:
    """What a file holds, from its header: ``channels``, sample ``dtype`` (``"uint8"``, ``"uint16"``,
    ``"float32"``, ...) and, from :func:`probe`, its size ``hw = (H, W)`` (not compared)."""

    channels: int
    dtype: str
    hw: tuple[int, int] | None = field(default=None, compare=False)

    @property
    def depth(self) -> str:
        """Human-readable bit depth, e.g. ``"16-bit"`` or ``"32-bit float"``."""
        dt = np.dtype(self.dtype)
        bits = f"{dt.itemsize * 8}-bit"
        return bits if dt.kind in "ub" else f"{bits} {'float' if dt.kind == 'f' else 'signed'}"

    def describe(self) -> str:
        """E.g. ``"1 channel, 16-bit"``."""
        return f"{self.channels} channel{'s' if self.channels != 1 else ''}, {self.depth}"


def _suffix(path: str | Path) -> str:
    return Path(path).suffix.lower()


def _pil_mode(image: Image.Image) -> str:
    """The 8-bit mode an image is read in, or ``""`` for 16-bit / 32-bit modes (read as arrays)."""
    if image.mode == "P":
        return "RGBA" if "transparency" in image.info else "RGB"
    return _PIL_MODES.get(image.mode, "")


def _png_is_16bit_colour(path: str | Path) -> bool:
    """PNG header: bit depth 16 and a colour type with RGB (2, 6) or grey+alpha (4) samples."""
    with open(path, "rb") as fh:
        head = fh.read(26)
    return len(head) == 26 and head[24] == 16 and head[25] in (2, 4, 6)


def _npy_axes(shape: tuple[int, ...]) -> tuple[int, str]:
    """``(channels, layout)`` of a ``.npy`` shape: ``"HW"``, ``"CHW"`` or ``"HWC"``."""
    if len(shape) == 2:
        return 1, "HW"
    if len(shape) == 3:
        return (shape[0], "CHW") if shape[0] <= shape[2] else (shape[2], "HWC")
    raise UnreadableImage(f"a .npy image must be (H, W), (C, H, W) or (H, W, C), not {shape}")


def _tiff_axes(shape: tuple[int, ...], axes: str) -> tuple[int, str]:
    """``(channels, layout)`` of a tifffile series after dropping length-1 axes."""
    kept = [(n, a) for n, a in zip(shape, axes, strict=True) if n != 1 or a in "YX"]
    shape, axes = tuple(n for n, _ in kept), "".join(a for _, a in kept)
    if len(shape) == 2:
        return 1, "HW"
    if len(shape) == 3:
        return (shape[2], "HWC") if axes.endswith("S") else (shape[0], "CHW")
    raise UnreadableImage(f"a TIFF image must have 2 or 3 axes, this one has {axes} {shape}")


def probe(path: str | Path) -> ImageInfo:
    """Channels and sample type of an image file from its header only (no decoding).

    Raises:
        UnreadableImage: not an image colormae reads (corrupt, empty, unknown format, odd layout).
    """
    suffix = _suffix(path)
    try:
        if suffix == ".npy":
            array = np.load(path, mmap_mode="r", allow_pickle=False)
            channels, layout = _npy_axes(array.shape)
            return ImageInfo(channels, array.dtype.name, _hw(array.shape, layout))
        if suffix in TIFF:
            try:
                return _probe_tiff(path)
            except UnreadableImage:
                raise
            except Exception:  # noqa: BLE001 - not a TIFF tifffile reads: let Pillow try
                pass
        with Image.open(path) as image:
            if image.size[0] <= 0 or image.size[1] <= 0:
                raise UnreadableImage(f"{path}: empty image")
            mode, hw = _pil_mode(image), (image.size[1], image.size[0])
            if mode:
                if image.format == "PNG" and _png_is_16bit_colour(path):
                    return ImageInfo(_MODE_CHANNELS[mode], "uint16", hw)
                return ImageInfo(_MODE_CHANNELS[mode], "uint8", hw)
            if image.mode.startswith("I;16"):
                return ImageInfo(1, "uint16", hw)
            if image.mode == "I":  # older Pillow opens 16-bit grey PNGs as 32-bit "I"
                return ImageInfo(1, "uint16" if image.format == "PNG" else "int32", hw)
            if image.mode == "F":
                return ImageInfo(1, "float32", hw)
            raise UnreadableImage(f"{path}: unsupported image mode {image.mode}")
    except UnreadableImage:
        raise
    except Exception as err:  # noqa: BLE001 - any failure to parse the header means "not readable"
        raise UnreadableImage(f"{path}: {type(err).__name__}: {err}") from err


def _probe_tiff(path: str | Path) -> ImageInfo:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        shape = tuple(n for n, a in zip(series.shape, series.axes, strict=True) if n != 1 or a in "YX")
        channels, layout = _tiff_axes(tuple(series.shape), series.axes)
        return ImageInfo(channels, np.dtype(series.dtype).name, _hw(shape, layout))


def _hw(shape: tuple[int, ...], layout: str) -> tuple[int, int]:
    """``(H, W)`` of an array ``shape`` in ``layout`` (``"HW"``, ``"CHW"``, ``"HWC"``)."""
    return (int(shape[1]), int(shape[2])) if layout == "CHW" else (int(shape[0]), int(shape[1]))


def _as_hwc(array: np.ndarray, layout: str) -> np.ndarray:
    if layout == "HW":
        return array[:, :, None]
    return np.moveaxis(array, 0, -1) if layout == "CHW" else array


def read_array(path: str | Path) -> np.ndarray:
    """The samples of any supported file as stored: ``(H, W, C)`` numpy array of its own dtype."""
    suffix = _suffix(path)
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
            return _as_hwc(array, _npy_axes(array.shape)[1])
        if suffix in TIFF:
            try:
                import tifffile

                with tifffile.TiffFile(path) as tif:
                    series = tif.series[0]
                    array = series.asarray()
                    axes_shape = (tuple(series.shape), series.axes)
                layout = _tiff_axes(*axes_shape)[1]
                return _as_hwc(array.reshape([n for n in array.shape if n != 1] or [1]), layout)
            except UnreadableImage:
                raise
            except Exception:  # noqa: BLE001 - e.g. LZW without imagecodecs: Pillow reads it
                pass
        with Image.open(path) as image:
            mode = _pil_mode(image)
            if mode and image.format == "PNG" and _png_is_16bit_colour(path):
                return _read_png16(path)
            if mode:
                return np.asarray(image.convert(mode)).reshape(image.size[1], image.size[0], -1)
            array = np.asarray(image)
            if image.mode == "I" and image.format == "PNG":
                array = array.astype(np.uint16)
            return array[:, :, None]
    except (UnreadableImage, UserError):
        raise
    except Exception as err:  # noqa: BLE001 - truncated bodies, bad data: "not readable"
        raise UnreadableImage(f"{path}: {type(err).__name__}: {err}") from err


def _read_png16(path: str | Path) -> np.ndarray:
    """16-bit colour PNG with OpenCV (Pillow keeps only 8 bits); BGR(A) -> RGB(A)."""
    cv2 = require("cv2", extra="tiff", feature=f"{path}: a 16-bit colour PNG")

    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise UnreadableImage(f"{path}: OpenCV cannot decode this PNG")
    if array.ndim == 2:
        return array[:, :, None]
    return array[:, :, [2, 1, 0, 3][: array.shape[2]]] if array.shape[2] >= 3 else array


def scale(array: np.ndarray) -> torch.Tensor:
    """``(H, W, C)`` array -> float32 tensor ``(C, H, W)``: unsigned / signed integers divided by their
    type's maximum (8-bit by 255, 16-bit by 65535), booleans 0 / 1, floats as stored."""
    if array.dtype == np.bool_:
        out = array.astype(np.float32)
    elif np.issubdtype(array.dtype, np.integer):
        out = array.astype(np.float32) / float(np.iinfo(array.dtype).max)
    else:
        out = array.astype(np.float32, copy=False)
    return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))


def read_image(path: str | Path) -> Image.Image | torch.Tensor:
    """A file as the transforms take it: an 8-bit ``PIL.Image`` (mode L, LA, RGB or RGBA) for 8-bit photo
    formats, else a float32 tensor ``(C, H, W)`` scaled by :func:`scale`.

    Raises:
        UnreadableImage: the file cannot be decoded.
    """
    suffix = _suffix(path)
    if suffix not in TIFF and suffix != ".npy":
        try:
            with Image.open(path) as image:
                mode = _pil_mode(image)
                if mode and not (image.format == "PNG" and _png_is_16bit_colour(path)):
                    converted = image.convert(mode)
                    converted.load()
                    return converted
        except Exception as err:  # noqa: BLE001
            raise UnreadableImage(f"{path}: {type(err).__name__}: {err}") from err
    return scale(read_array(path))


def channels_of(image: Image.Image | torch.Tensor) -> int:
    """Channel count of a PIL image or a ``(C, H, W)`` tensor."""
    if isinstance(image, Image.Image):
        return _MODE_CHANNELS.get(_pil_mode(image) or image.mode, 1)
    return int(image.shape[0])


#: Formats whose channels are bands of data: a 4th channel there is a band, not an alpha channel.
BAND_FORMATS = (*TIFF, ".npy")


#: What reading a 4-band file of data as RGB costs, and how to avoid it (:func:`drops_band`).
DROPPED_BAND = ("4 bands read as 3 channels, so band 4 is dropped (in a TIFF / .npy it is a band of data, "
                "not an alpha channel); to use it give the model 4 channels (pretrain: in_chans=4; from a "
                "3-channel checkpoint: init_channels=mean)")


def drops_band(path: str | Path, have: int, want: int) -> bool:
    """Whether reading ``path`` (``have`` channels) as ``want`` drops a band of data rather than an alpha
    channel: a 4-band TIFF / ``.npy`` read as RGB (see :data:`DROPPED_BAND`)."""
    return (have, want) == (4, 3) and _suffix(path) in BAND_FORMATS


def can_convert(have: int, want: int) -> bool:
    """Whether ``have`` channels become ``want`` by a conventional lossless conversion (or are equal)."""
    return have == want or (have, want) in CONVERTIBLE


def adapt_channels(image: Image.Image | torch.Tensor, channels: int) -> Image.Image | torch.Tensor:
    """Bring an image to ``channels`` channels (see :data:`CONVERTIBLE`); PIL stays PIL, tensors stay
    tensors. Raises ``ValueError`` for any other conversion."""
    have = channels_of(image)
    if isinstance(image, Image.Image):
        mode = _pil_mode(image) or image.mode
        if have == channels and mode == image.mode:
            return image
        if can_convert(have, channels) and channels in _CHANNEL_MODES:
            return image.convert(_CHANNEL_MODES[channels])
        if have == channels:
            return image.convert(mode)
        image = to_tensor(image)
    if have == channels:
        return image
    if have == 1 and channels == 3:
        return image.expand(3, -1, -1).clone()
    if (have, channels) in CONVERTIBLE:  # drop alpha, then grey -> RGB if asked
        base = image[: have - 1]
        return base.expand(3, -1, -1).clone() if base.shape[0] == 1 and channels == 3 else base
    raise ValueError(f"an image with {have} channels cannot be used as {channels} channels")


def to_tensor(image: Image.Image | torch.Tensor | np.ndarray) -> torch.Tensor:
    """A PIL image (8-bit modes, ``I;16``, ``F``), an ``(H, W[, C])`` array or a tensor as float32
    ``(C, H, W)`` scaled by the bit depth (a float tensor is returned unchanged)."""
    if isinstance(image, torch.Tensor):
        return image if image.is_floating_point() else scale(image.permute(1, 2, 0).numpy())
    if isinstance(image, Image.Image):
        mode = _pil_mode(image)
        if mode and mode != image.mode:
            image = image.convert(mode)
        array = np.asarray(image)
    else:
        array = image
    return scale(array[:, :, None] if array.ndim == 2 else array)


#: First bytes of the formats whose readers need a file (tifffile, numpy, OpenCV): magic -> suffix.
_MAGIC = ((b"\x93NUMPY", ".npy"), (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"), (b"\x89PNG", ".png"))


def sniff_suffix(data: bytes, default: str = ".jpg") -> str:
    """The file-name ending of image bytes from their magic number (``default`` for other formats:
    Pillow finds those from the bytes itself)."""
    return next((suffix for magic, suffix in _MAGIC if data.startswith(magic)), default)


def read_image_bytes(data: bytes, suffix: str) -> Image.Image | torch.Tensor:
    """:func:`read_image` of a file's bytes (a tar shard member, a Hugging Face image cell).

    8-bit photo formats are decoded from memory by Pillow. TIFF, ``.npy`` and 16-bit colour PNG go
    through a temporary file, so they take exactly :func:`read_image`'s readers (tifffile, numpy,
    OpenCV; OpenCV decodes only from a path or a buffer copy, and one code path is worth more here
    than the rare extra write of these formats).

    Raises:
        UnreadableImage: the bytes cannot be decoded.
    """
    import io
    import tempfile

    suffix = suffix.lower() if suffix.startswith(".") else f".{suffix.lower()}"
    head = data[:26]
    png16 = head.startswith(b"\x89PNG") and len(head) == 26 and head[24] == 16 and head[25] in (2, 4, 6)
    if suffix not in TIFF and suffix != ".npy" and not png16:
        try:
            with Image.open(io.BytesIO(data)) as image:
                mode = _pil_mode(image)
                if mode:
                    converted = image.convert(mode)
                    converted.load()
                    return converted
        except Exception as err:  # noqa: BLE001 - any decoding failure means "not readable"
            raise UnreadableImage(f"{type(err).__name__}: {err}") from err
    with tempfile.NamedTemporaryFile(suffix=suffix) as fh:
        fh.write(data)
        fh.flush()
        return read_image(fh.name)
