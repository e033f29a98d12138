"""Transforms: any channel count, (H, W) outputs, the given normalisation; square output as before."""

import math

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

from colormae.data import Normalization, eval_transform, mae_transform
from colormae.data.transforms import CROP_PCT, MEAN, STD


def test_mae_transform_non_square_any_channels():
    norm = Normalization((0.5,) * 6, (0.25,) * 6, "dataset")
    x = torch.rand(6, 70, 50)
    torch.manual_seed(0)
    out = mae_transform((48, 32), norm)(x)
    assert out.shape == (6, 48, 32) and out.dtype == torch.float32
    # normalised: (x - 0.5) / 0.25 of values in about [0, 1]
    assert -2.5 < float(out.min()) < -1.0 and 1.0 < float(out.max()) < 2.5


def test_eval_transform_covers_the_crop_for_every_aspect():
    norm = Normalization((0.0,), (1.0,), "none")
    for h, w in ((100, 40), (40, 100), (64, 64)):
        x = torch.full((1, h, w), 0.75)
        out = eval_transform((48, 32), norm)(x)
        assert out.shape == (1, 48, 32)
        torch.testing.assert_close(out, torch.full_like(out, 0.75))  # no padding anywhere


def test_square_eval_transform_of_a_photo_is_unchanged():
    """The square path is MAE / timm's: short side to floor(size / 0.875), centre crop, ToTensor, ImageNet."""
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8))
    reference = T.Compose([T.Resize(math.floor(32 / CROP_PCT), interpolation=T.InterpolationMode.BICUBIC),
                           T.CenterCrop(32), T.ToTensor(), T.Normalize(MEAN, STD)])
    assert torch.equal(eval_transform(32)(image), reference(image))


def test_grey_pil_becomes_one_or_three_channels():
    image = Image.fromarray(np.full((30, 30), 128, np.uint8))
    assert eval_transform(16, Normalization((0.0,), (1.0,), "none"))(image).shape == (1, 16, 16)
    rgb = eval_transform(16)(image)
    assert rgb.shape == (3, 16, 16)
    torch.testing.assert_close(rgb[0] * STD[0] + MEAN[0], rgb[2] * STD[2] + MEAN[2])


def test_to_rgb_gives_pil_pipelines_an_8bit_rgb_image_of_a_16bit_one():
    import pytest

    from colormae.data import to_rgb
    from colormae.errors import UserError

    grey = torch.full((1, 6, 5), 0.5)
    image = to_rgb(grey)
    assert image.mode == "RGB" and image.size == (5, 6) and np.asarray(image).max() == 127
    with pytest.raises(UserError, match="6 channels"):
        to_rgb(torch.rand(6, 6, 5))


def test_square_resize_is_timms_floor_of_size_over_crop_pct():
    """timm's eval transform (``transforms_imagenet_eval``) resizes the short side to
    ``floor(size / crop_pct)``: 36 for 32 px (not 37), 256 for 224; ours gives the same pixels."""
    from timm.data import create_transform

    from colormae.data.transforms import ResizeToCover

    photo = Image.fromarray(np.random.default_rng(1).integers(0, 256, (300, 400, 3), dtype=np.uint8))
    for size in (32, 48, 64, 96, 224):
        timm_tf = create_transform(input_size=(3, size, size), is_training=False, interpolation="bicubic",
                                   crop_pct=CROP_PCT, mean=MEAN, std=STD)
        (resize,) = [t for t in timm_tf.transforms if isinstance(t, T.Resize)]
        side = resize.size if isinstance(resize.size, int) else resize.size[0]
        assert side == math.floor(size / CROP_PCT) and min(ResizeToCover((size, size))(photo).size) == side
        torch.testing.assert_close(eval_transform(size)(photo), timm_tf(photo), rtol=0, atol=1e-6)
    assert math.floor(32 / CROP_PCT) == 36 and math.floor(224 / CROP_PCT) == 256
