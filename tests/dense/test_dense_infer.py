"""Whole-image and sliding-window inference."""

import torch
from torch import nn

from colormae.dense.infer import predict, slide_logits, whole_logits
from colormae.dense.segmentor import HeadConfig, segmentor_from_mae
from colormae.models import create_mae


def _segmentor(crop: int = 32) -> nn.Module:
    torch.manual_seed(0)
    mae = create_mae("mae_vit_micro_32px")
    return segmentor_from_mae(mae, HeadConfig(num_classes=5, crop=crop, channels=8, aux_channels=8)).eval()


def test_slide_equals_whole_when_one_crop_covers_the_image():
    model = _segmentor()
    for hw in ((32, 32), (24, 28)):  # exactly the crop, and smaller than it (one window of the image)
        x = torch.randn(2, 3, *hw)
        assert torch.equal(slide_logits(model, x, crop=32, stride=21), whole_logits(model, x))


def test_slide_averages_overlapping_windows():
    # a per-pixel model gives the same logits whatever window a pixel is seen in
    conv = nn.Conv2d(3, 4, 1).eval()
    x = torch.randn(1, 3, 50, 37)
    torch.testing.assert_close(slide_logits(conv, x, crop=16, stride=11), whole_logits(conv, x))


def test_slide_counts_windows_like_mmseg():
    calls = []

    class Spy(nn.Module):
        def forward(self, x):
            calls.append(tuple(x.shape[-2:]))
            return x[:, :1]

    slide_logits(Spy(), torch.zeros(1, 3, 40, 20), crop=16, stride=10)
    # rows: ceil((40 - 16) / 10) + 1 = 4, cols: ceil((20 - 16) / 10) + 1 = 2; every window is full size
    assert len(calls) == 8 and set(calls) == {(16, 16)}


def test_predict_resizes_to_the_annotation():
    model = _segmentor()
    pred = predict(model, torch.randn(3, 32, 48), (64, 96), mode="slide", crop=32, stride=21)
    assert pred.shape == (64, 96) and pred.dtype == torch.int64 and int(pred.max()) < 5
