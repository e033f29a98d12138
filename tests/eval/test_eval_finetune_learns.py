"""A short fine-tune from random init on a small, imbalanced set of real photo crops must beat the
majority class: the regression test for a recipe that only learns the class prior (issue 12).

The set: 4 classes = 4 of the photos that install with scikit-image / scikit-learn / matplotlib; each
image is a 32 px view of a random square of 20-35 % of the photo's short side. Training crops come from
the left 60 % of each photo, validation crops from the right 40 % (no shared pixels), so the classifier
has to recognise colour and texture it has not seen, not memorise crops. Imbalanced 4:1:1:1, so always
answering the first class scores 57 %.
"""

import numpy as np
import pytest
from PIL import Image

from colormae.config import load_config
from colormae.eval.finetune import finetune
from colormae.jobs.finetune import FinetuneConfig

COUNTS = {"train": (48, 12, 12, 12), "val": (24, 6, 6, 6)}
MAJORITY = 100 * 24 / 42


def job(out, data, **kw) -> FinetuneConfig:
    return load_config(FinetuneConfig, values={"ckpt": "random:mae_vit_micro_32px", "out": str(out),
                                               "data": str(data), "epochs": 16, "batch_size": 16,
                                               "num_workers": 0, "progress": False, "seed": 0, **kw})


@pytest.fixture(scope="module")
def photo_crops(tmp_path_factory):
    from colormae.data.photos import load_photos

    names, photos = load_photos()
    if len(photos) < 4:
        pytest.skip("fewer than 4 bundled photos installed")
    root = tmp_path_factory.mktemp("photo_crops")
    rng = np.random.default_rng(0)
    for split, counts in COUNTS.items():
        for label, (name, photo, n) in enumerate(zip(names[:4], photos[:4], counts, strict=True)):
            w, h = photo.size
            x0, x1 = (0, int(0.6 * w)) if split == "train" else (int(0.6 * w), w)
            folder = root / split / f"{label}_{name}"
            folder.mkdir(parents=True)
            for i in range(n):
                side = int(min(h, x1 - x0) * rng.uniform(0.2, 0.35))
                left, top = rng.integers(x0, x1 - side + 1), rng.integers(0, h - side + 1)
                crop = photo.crop((left, top, left + side, top + side)).resize((32, 32), Image.BICUBIC)
                crop.save(folder / f"{i}.png")
    return root


def test_short_finetune_beats_the_majority_class(tmp_path, photo_crops):
    res = finetune(job(tmp_path / "ft", photo_crops))  # every recipe setting "auto"
    assert res["steps"] == 16 * (84 // 16)
    assert res["top1"] > MAJORITY + 10, res
    assert res["balanced_acc"] > 100 / 4 + 20, res
    assert res["predicted_classes"] >= 2 and "warning" not in res
    recipe = res["recipe"]  # what "auto" chose for 84 images and a random-init encoder
    assert recipe["mixup"] == 0.0 and recipe["layer_decay"] == 1.0 and "lr" in recipe["auto"]


def test_maes_imagenet_recipe_collapses_there(tmp_path, photo_crops):
    """The same run with MAE's ViT-B settings (lr 1e-3 x 16 / 256, layer decay 0.65, Mixup / CutMix,
    RandAugment, erasing) ends on the majority class: the failure the 'auto' defaults fix, and the
    one-class warning it raises."""
    from colormae.eval.recipe import PAPER
    from colormae.eval.results import CollapsedPredictionsWarning

    paper = {**PAPER, "base_lr": 1e-3, "warmup_epochs": 1}
    with pytest.warns(CollapsedPredictionsWarning, match="predicts only class 0_"):
        res = finetune(job(tmp_path / "ft", photo_crops, **paper))
    assert res["top1"] == pytest.approx(MAJORITY) and res["balanced_acc"] == pytest.approx(25.0)
