"""Readers: 8/16-bit PNG, RGBA, multi-band TIFF, .npy; one channel count and bit depth per folder."""

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from colormae.data import SafeImageFolder, build_dataset, probe, read_image
from colormae.data.readers import adapt_channels, to_tensor
from colormae.errors import UserError


def _rng():
    return np.random.default_rng(0)


def test_16bit_grey_png_is_scaled_by_65535(tmp_path):
    a = _rng().integers(0, 65536, (20, 30), dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "x.png")
    info = probe(tmp_path / "x.png")
    assert (info.channels, info.dtype, info.depth) == (1, "uint16", "16-bit")
    x = read_image(tmp_path / "x.png")
    assert x.dtype == torch.float32 and x.shape == (1, 20, 30)
    torch.testing.assert_close(x[0], torch.from_numpy(a.astype(np.float32) / 65535))


def test_8bit_png_stays_pil_and_rgba_keeps_its_alpha(tmp_path):
    a = _rng().integers(0, 256, (10, 12, 4), dtype=np.uint8)
    Image.fromarray(a, "RGBA").save(tmp_path / "x.png")
    assert probe(tmp_path / "x.png").channels == 4
    image = read_image(tmp_path / "x.png")
    assert isinstance(image, Image.Image) and image.mode == "RGBA"
    torch.testing.assert_close(to_tensor(image), torch.from_numpy(a.transpose(2, 0, 1) / 255).float())
    rgb = to_tensor(adapt_channels(image, 3))  # dropping alpha is a conventional conversion
    torch.testing.assert_close(rgb, torch.from_numpy(a[..., :3].transpose(2, 0, 1) / 255).float())


def test_16bit_colour_png_keeps_16_bits(tmp_path):
    cv2 = pytest.importorskip("cv2")
    a = _rng().integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "x.png"), a[..., ::-1])  # OpenCV writes BGR
    assert probe(tmp_path / "x.png").dtype == "uint16"
    torch.testing.assert_close(read_image(tmp_path / "x.png"),
                               torch.from_numpy(a.transpose(2, 0, 1) / 65535).float())


@pytest.mark.parametrize("layout", ["planar", "contig"])
def test_multiband_tiff(tmp_path, layout):
    a = _rng().integers(0, 65536, (4, 16, 12), dtype=np.uint16)
    if layout == "planar":
        tifffile.imwrite(tmp_path / "x.tif", a, photometric="minisblack", planarconfig="separate")
    else:
        tifffile.imwrite(tmp_path / "x.tif", a.transpose(1, 2, 0), photometric="minisblack",
                         planarconfig="contig")
    assert probe(tmp_path / "x.tif").channels == 4
    torch.testing.assert_close(read_image(tmp_path / "x.tif"), torch.from_numpy(a / 65535).float())


@pytest.mark.parametrize("layout", ["CHW", "HWC", "HW"])
def test_npy_arrays(tmp_path, layout):
    a = _rng().random((6, 16, 12)).astype(np.float32)
    stored = {"CHW": a, "HWC": a.transpose(1, 2, 0), "HW": a[0]}[layout]
    np.save(tmp_path / "x.npy", stored)
    expected = a if layout != "HW" else a[:1]
    assert probe(tmp_path / "x.npy").channels == expected.shape[0]
    assert torch.equal(read_image(tmp_path / "x.npy"), torch.from_numpy(expected))  # floats as stored


def test_folder_of_npy_classes(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(2):
            np.save(tmp_path / cls / f"{i}.npy", np.full((6, 8, 8), i, np.float32))
    ds = build_dataset(tmp_path)
    assert ds.channels == 6 and ds.dtype == "float32" and ds.classes == ["a", "b"] and len(ds) == 4
    image, label = ds[3]
    assert image.shape == (6, 8, 8) and float(image.max()) == 1.0 and label == 1


def _one_line_error(tmp_path, **kw) -> str:
    with pytest.raises(UserError) as err:
        SafeImageFolder(tmp_path, **kw)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_folder_with_another_channel_count_names_the_first_offender(tmp_path):
    for i in range(4):
        tifffile.imwrite(tmp_path / f"{i}.tif", np.zeros((4, 8, 8), np.uint16), photometric="minisblack",
                         planarconfig="separate")
    tifffile.imwrite(tmp_path / "2b.tif", np.zeros((3, 8, 8), np.uint16), photometric="minisblack",
                     planarconfig="separate")
    tifffile.imwrite(tmp_path / "3b.tif", np.zeros((5, 8, 8), np.uint16), photometric="minisblack",
                     planarconfig="separate")
    message = _one_line_error(tmp_path)
    assert "2b.tif" in message and "3 channels" in message and "3b.tif" not in message


def test_folder_with_another_bit_depth_names_the_first_offender(tmp_path):
    for i in range(3):
        Image.fromarray(np.zeros((8, 8), np.uint16)).save(tmp_path / f"{i}.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "1b.png")
    message = _one_line_error(tmp_path)
    assert "1b.png" in message and "8-bit" in message and "16-bit" in message


def test_in_chans_that_the_files_cannot_give_is_one_line(tmp_path):
    for i in range(2):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / f"{i}.png")
    message = _one_line_error(tmp_path, channels=1)
    assert "0.png" in message and "in_chans=1" in message


def test_grey_jpeg_among_rgb_ones_is_repeated_to_rgb(tmp_path):
    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.jpg")
    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(tmp_path / "3.jpg")
    ds = build_dataset(tmp_path)
    assert ds.channels == 3
    x = ds[3][0]
    assert x.shape == (3, 8, 8) and torch.equal(x[0], x[2])
