"""The device half of the GPU data path: batched JPEG decoding, crop, resize, flip and normalise.

:class:`GpuAugment` turns an :class:`~colormae.data.gpu_reader.EncodedBatch` into the normalised
``(B, 3, H, W)`` float32 images the model takes, on ``device``: JPEG payloads are decoded together by
``torchvision.io.decode_jpeg(list, device=...)`` (nvJPEG on CUDA, libjpeg-turbo on the CPU, so the same
code runs in CI), then each image is cropped to its box and resized with antialiased bicubic
interpolation (torch's antialiased bicubic follows PIL's, the CPU path's resize), rounded to 8 bits like
PIL's output, flipped and normalised with ImageNet mean / std. torchvision has no batched
crop-and-resize for boxes of different sizes, hence the loop over the batch (one resize call per image).

A payload the decoder refuses is counted in :attr:`GpuAugment.skipped` and replaced by another image of
the same batch (the CPU path substitutes the next readable file; here the batch is already read).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torchvision.io import ImageReadMode, decode_jpeg

from colormae.data.device_normalize import DeviceNormalize
from colormae.data.gpu_reader import EncodedBatch
from colormae.data.transforms import MEAN, STD
from colormae.errors import UserError


class GpuAugment:
    """Decode and augment an :class:`EncodedBatch` on ``device`` (module docstring).

    Args:
        img_size: output size, an int or ``(H, W)``.
        device: where to decode and compute (``"cuda"`` for nvJPEG; ``"cpu"`` works too).
        mean, std: normalisation (ImageNet by default, as every CPU transform).

    Call: ``augment(batch) -> images (B, 3, H, W) float32`` on ``device``.
    """

    def __init__(self, img_size: int | tuple[int, int], device: torch.device | str,
                 mean: tuple[float, ...] = MEAN, std: tuple[float, ...] = STD) -> None:
        self.size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.device = torch.device(device)
        self.normalize = DeviceNormalize(self.device, mean, std)
        self.skipped = 0

    def decode(self, payloads: list[torch.Tensor]) -> list[torch.Tensor | None]:
        """``uint8 (3, H, W)`` images on the device; None where a payload does not decode."""
        out: list[torch.Tensor | None] = [None] * len(payloads)
        jpeg = [i for i, p in enumerate(payloads) if p.dim() == 1]
        for i, p in enumerate(payloads):
            if p.dim() == 3:
                out[i] = p.to(self.device, non_blocking=True)
        if jpeg:
            try:
                decoded = decode_jpeg([payloads[i] for i in jpeg], mode=ImageReadMode.RGB, device=self.device)
            except RuntimeError:  # one bad file fails the whole call: decode one by one to find it
                decoded = [self._decode_one(payloads[i]) for i in jpeg]
            for i, image in zip(jpeg, decoded, strict=True):
                out[i] = image
        return out

    def _decode_one(self, data: torch.Tensor) -> torch.Tensor | None:
        try:
            return decode_jpeg(data, mode=ImageReadMode.RGB, device=self.device)
        except RuntimeError:
            if self.device.type == "cpu":
                return None
        try:  # a JPEG the device decoder does not take (e.g. an unusual subsampling): the CPU's
            return decode_jpeg(data, mode=ImageReadMode.RGB).to(self.device)
        except RuntimeError:
            return None

    def __call__(self, batch: EncodedBatch) -> torch.Tensor:
        images = self.decode(batch.payloads)
        good = [i for i, image in enumerate(images) if image is not None]
        if not good:
            raise UserError(f"none of the {len(images)} images of a batch could be decoded")
        if len(good) < len(images):
            bad = len(images) - len(good)
            if not self.skipped:
                warnings.warn(f"{bad} image(s) of a batch did not decode; replaced by others of the batch "
                              "(count in GpuAugment.skipped)", RuntimeWarning, stacklevel=2)
            self.skipped += bad
        boxes, flips = batch.boxes.tolist(), batch.flips.tolist()  # on the CPU: no device sync
        with torch.autocast(self.device.type, enabled=False):
            crops = []
            for i in range(len(images)):
                source = i if images[i] is not None else good[(i + 1) % len(good)]
                crops.append(self._crop_resize(images[source], boxes[source], flips[source]))  # type: ignore
            x = torch.cat(crops).clamp_(0.0, 255.0).round_()  # PIL's 8-bit result
            return self.normalize(x)

    def _crop_resize(self, image: torch.Tensor, box: list[int], flip: bool) -> torch.Tensor:
        """``image uint8 (3, H, W)`` -> ``(1, 3, h, w)`` float in [0, 255] (not yet rounded)."""
        top, left, height, width = box
        crop = image[:, top:top + height, left:left + width].unsqueeze(0).float()
        crop = F.interpolate(crop, size=self.size, mode="bicubic", align_corners=False, antialias=True)
        return crop.flip(-1) if flip else crop
