"""Large-scale jitter (LSJ), the ViTDet training augmentation, on image + boxes + masks together.

mmdet's ViTDet pipeline (``lsj-100e_coco-instance.py``): horizontal flip (p 0.5); resize keeping the
aspect ratio so the image fits a ``size x ratio`` square, ``ratio ~ U(0.1, 2.0)``; random crop of
``size x size`` (smaller images are not cropped); boxes clipped to the crop and those left thinner than
0.01 px dropped; pad to ``size x size`` with grey 114 (every band) at the bottom and right. torchvision's
detection transforms (``transforms.v2``) could do the pieces but not the crop rule with an RNG the
resumable loader seeds, so the few lines are here. Evaluation needs no transform: the detector's own
``GeneralizedRCNNTransform`` resizes the longer side to ``size`` and maps detections back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: Padding grey of the official pipeline (114 / 255 on [0, 1] images).
PAD_VALUE = 114 / 255
#: Boxes thinner than this (pixels) after cropping are dropped (mmdet ``FilterAnnotations``).
MIN_BOX = 1e-2


class LargeScaleJitter:
    """``(image (C, H, W) in [0, 1], target) -> (image (C, size, size), target)``; see the module docstring.

    Draws from the global torch RNG (the training loader seeds it per sample for exact resume).
    """

    def __init__(self, size: int, scale_range: tuple[float, float] = (0.1, 2.0), flip_prob: float = 0.5,
                 pad_value: float = PAD_VALUE) -> None:
        self.size = size
        self.scale_range = scale_range
        self.flip_prob = flip_prob
        self.pad_value = pad_value

    def __call__(self, image: Tensor, target: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        target = dict(target)
        _, h, w = image.shape
        boxes = target["boxes"].clone()
        masks = target.get("masks")
        if float(torch.rand(())) < self.flip_prob:
            image = image.flip(-1)
            boxes[:, [0, 2]] = w - boxes[:, [2, 0]]
            masks = masks.flip(-1) if masks is not None else None
        lo, hi = self.scale_range
        ratio = lo + (hi - lo) * float(torch.rand(()))
        factor = self.size * ratio / max(h, w)
        nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
        image = F.interpolate(image[None], size=(nh, nw), mode="bilinear", align_corners=False,
                              antialias=factor < 1)[0]
        boxes = boxes * torch.tensor([nw / w, nh / h, nw / w, nh / h])
        if masks is not None:
            masks = F.interpolate(masks[None].float(), size=(nh, nw), mode="nearest")[0].to(torch.uint8)
        ch, cw = min(self.size, nh), min(self.size, nw)
        y0 = int(torch.randint(0, nh - ch + 1, ()))
        x0 = int(torch.randint(0, nw - cw + 1, ()))
        image = image[:, y0:y0 + ch, x0:x0 + cw]
        boxes = boxes - torch.tensor([x0, y0, x0, y0], dtype=boxes.dtype)
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, cw)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, ch)
        keep = ((boxes[:, 2] - boxes[:, 0]) > MIN_BOX) & ((boxes[:, 3] - boxes[:, 1]) > MIN_BOX)
        out = torch.full((image.shape[0], self.size, self.size), self.pad_value, dtype=image.dtype)
        out[:, :ch, :cw] = image
        target["boxes"] = boxes[keep]
        target["labels"] = target["labels"][keep]
        if masks is not None:
            padded = torch.zeros((int(keep.sum()), self.size, self.size), dtype=torch.uint8)
            padded[:, :ch, :cw] = masks[keep, y0:y0 + ch, x0:x0 + cw]
            target["masks"] = padded
        return out, target
