"""`colormae data stats` equals numpy over the same pixels; normalize=imagenet|dataset|none resolution."""

import json

import numpy as np
import pytest
import tifffile
from PIL import Image

from colormae.cli import main
from colormae.data import STATS_FILE, Normalization, resolve_normalization
from colormae.data.normalization import IMAGENET_GREY_MEAN, IMAGENET_MEAN, normalization_from_checkpoint
from colormae.errors import UserError


def _tiff_folder(root, sizes=((16, 12), (20, 9), (7, 30))):
    rng = np.random.default_rng(1)
    arrays = []
    for k, (h, w) in enumerate(sizes):
        a = (rng.random((4, h, w)) * [[[1000]], [[20000]], [[40000]], [[65535]]]).astype(np.uint16)
        tifffile.imwrite(root / f"{k}.tif", a, photometric="minisblack", planarconfig="separate")
        arrays.append(a)
    return arrays


def test_data_stats_equals_numpy_over_the_same_pixels(tmp_path, capsys):
    arrays = _tiff_folder(tmp_path)  # images of different sizes: every pixel counts once
    assert main(["data", "stats", str(tmp_path), "--no-progress", "--names", "B,G,R,N"]) == 0
    entry = json.loads((tmp_path / STATS_FILE).read_text())
    pixels = np.concatenate([a.reshape(4, -1) for a in arrays], axis=1).astype(np.float64) / 65535
    np.testing.assert_allclose(entry["mean"], pixels.mean(axis=1), atol=1e-4, rtol=0)
    np.testing.assert_allclose(entry["std"], pixels.std(axis=1), atol=1e-4, rtol=0)
    assert (entry["channels"], entry["images"], entry["pixels"]) == (4, 3, pixels.shape[1])
    assert "wrote" in capsys.readouterr().out
    norm = resolve_normalization("dataset", 4, str(tmp_path))
    assert norm.channel_names == ("B", "G", "R", "N") and norm.mean == tuple(entry["mean"])
    assert resolve_normalization("auto", 4, str(tmp_path)) == norm  # 4 channels: auto is dataset


def test_sampling_reads_evenly_spaced_images(tmp_path):
    for i in range(10):
        Image.fromarray(np.full((4, 4), i * 20, np.uint8)).save(tmp_path / f"{i}.png")
    assert main(["data", "stats", str(tmp_path), "--no-progress", "--max-images", "4"]) == 0
    entry = json.loads((tmp_path / STATS_FILE).read_text())
    assert entry["images"] == 4 and entry["sampled"] and entry["total_images"] == 10
    # images 0, 3, 6, 9 -> values 0, 60, 120, 180
    assert entry["mean"][0] == pytest.approx(90 / 255, abs=1e-6)


def test_missing_stats_and_mismatched_channels_are_one_line(tmp_path, capsys):
    _tiff_folder(tmp_path)
    with pytest.raises(UserError, match="colormae data stats"):
        resolve_normalization("dataset", 4, str(tmp_path))
    assert main(["data", "stats", str(tmp_path), "--no-progress"]) == 0
    with pytest.raises(UserError, match="4 channels but the model sees 3"):
        resolve_normalization("dataset", 3, str(tmp_path))
    assert main(["data", "stats", str(tmp_path / "nope"), "--no-progress"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_imagenet_statistics_per_channel_count():
    assert resolve_normalization("imagenet", 3).mean == IMAGENET_MEAN
    grey = resolve_normalization("imagenet", 1)
    assert grey.mean == IMAGENET_GREY_MEAN and grey.mean[0] == pytest.approx(0.449, abs=1e-3)
    with pytest.raises(UserError, match="normalize=dataset"):
        resolve_normalization("imagenet", 4)
    none = resolve_normalization("none", 6)
    assert none.mean == (0.0,) * 6 and none.std == (1.0,) * 6
    with pytest.raises(UserError, match="choose one of"):
        resolve_normalization("imgnet", 3)


def test_normalization_round_trips_through_a_checkpoint_entry():
    norm = Normalization((0.1, 0.2), (0.3, 0.4), "dataset", ("a", "b"))
    assert Normalization.from_dict(norm.to_dict()) == norm
    assert normalization_from_checkpoint({"data": {**norm.to_dict(), "norm_pix_loss": True}}) == norm
    # a checkpoint from before the entry existed was trained with ImageNet statistics
    assert normalization_from_checkpoint({"model_config": {"in_chans": 3}}).mean == IMAGENET_MEAN


def test_builtin_dataset_statistics_are_computed(capsys):
    norm = resolve_normalization("dataset", 1, "mnist5k", builtin=True, progress=False)
    assert norm.channels == 1 and 0.05 < norm.mean[0] < 0.2 and 0.2 < norm.std[0] < 0.4
