"""An RGB checkpoint fine-tuned on 4-band 16-bit TIFFs with ``init_channels``: the run maps the patch
embedding to 4 bands and learns classes that differ only in the extra band (above the majority class).

The set: 3 classes, imbalanced 2:1:1 (always answering the first scores 50 %). The R, G, B bands of every
image are the same kind of noise for all classes; the 4th band holds the class: a bright square in the
top-left quarter (class 0), the bottom-right quarter (class 1) or none (class 2), at a random brightness.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
import torch

from colormae.cli import main
from colormae.convert import export_colormae
from colormae.models import create_mae

COUNTS = {"train": (48, 24, 24), "val": (24, 12, 12)}
MAJORITY = 100 * 24 / 48


def _image(rng: np.random.Generator, label: int) -> np.ndarray:
    """``(4, 32, 32)`` uint16: RGB noise, the class in band 4."""
    x = rng.uniform(0.2, 0.8, (4, 32, 32)) + rng.normal(0, 0.1, (4, 32, 32))
    x[3] = rng.uniform(0.1, 0.3) + rng.normal(0, 0.05, (32, 32))
    level = rng.uniform(0.5, 0.7)
    if label == 0:
        x[3, 2:14, 2:14] += level
    elif label == 1:
        x[3, 18:30, 18:30] += level
    return (np.clip(x, 0, 1) * 65535).astype(np.uint16)


@pytest.fixture(scope="module")
def four_band(tmp_path_factory):
    root = tmp_path_factory.mktemp("four_band")
    rng = np.random.default_rng(0)
    for split, counts in COUNTS.items():
        for label, n in enumerate(counts):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True)
            for i in range(n):
                tifffile.imwrite(folder / f"{i}.tif", _image(rng, label), photometric="minisblack",
                                 planarconfig="separate")
    assert main(["data", "stats", str(root), "--names", "red,green,blue,nir"]) == 0
    return root


@pytest.mark.slow
def test_rgb_checkpoint_finetunes_on_four_bands(tmp_path, four_band, capsys):
    torch.manual_seed(0)
    imagenet = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "normalize": "imagenet"}
    export_colormae(create_mae("mae_vit_micro_32px"), tmp_path / "rgb.pt",
                    data={**imagenet, "norm_pix_loss": True})
    out = tmp_path / "ft"
    argv = ["finetune", str(tmp_path / "rgb.pt"), "--data", str(four_band), "--out", str(out), "epochs=30",
            "batch_size=16", "num_workers=0", "--no-progress", "init_channels=mean"]
    assert main(argv) == 0
    assert "patch embedding mapped from 3 to 4 channels" in capsys.readouterr().out
    res = json.loads((out / "finetune.json").read_text())
    assert res["top1"] > MAJORITY + 20, res
    assert res["balanced_acc"] > 100 / 3 + 20, res


def test_knn_reads_four_bands_through_the_named_mapping(tmp_path, four_band, capsys):
    """The frozen-feature jobs load through the same mechanism, the band names taken from the stats file
    (``names``: nir maps to nothing and starts at zero, so these features are the RGB model's)."""
    torch.manual_seed(0)
    export_colormae(create_mae("mae_vit_micro_32px"), tmp_path / "rgb.pt", data={"norm_pix_loss": True})
    argv = ["knn", str(tmp_path / "rgb.pt"), "--data", str(four_band), "--out", str(tmp_path / "knn"),
            "num_workers=0", "--no-progress", "init_channels=names"]
    assert main(argv) == 0
    assert "patch embedding mapped from RGB to 4 bands (red<-R, green<-G, blue<-B, nir<-0" in \
        capsys.readouterr().out
    assert json.loads((tmp_path / "knn" / "knn.json").read_text())["val_size"] == 48
