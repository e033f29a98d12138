"""The built-in digit scenes."""

import numpy as np

from colormae.dense.scenes import CLASSES, DigitScenes, make_scene, parse_scenes


def test_deterministic_and_seeded():
    a, b = make_scene("train", 5, seed=0), make_scene("train", 5, seed=0)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image)) and np.array_equal(a.labels, b.labels)
    c = make_scene("train", 5, seed=1)
    assert not np.array_equal(np.asarray(a.image), np.asarray(c.image))


def test_masks_instances_and_classes():
    src = DigitScenes("val", size=32)
    assert len(CLASSES) == 11 and len(src) == 200 and src.classes[0] == "background"
    seen = set()
    for i in range(40):
        s = src.scene(i)
        assert s.image.size == (32, 32) and s.labels.shape == (32, 32)
        union = np.zeros((32, 32), bool)
        for inst in s.instances:
            assert 1 <= inst.label <= 10
            assert (s.labels[inst.mask] == inst.label).all()
            ys, xs = np.nonzero(inst.mask)
            assert inst.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            assert not (union & inst.mask).any()  # visible masks do not overlap
            union |= inst.mask
        assert np.array_equal(union, s.labels > 0)  # every labelled pixel belongs to one instance
        seen |= set(np.unique(s.labels).tolist())
    assert seen == set(range(11))


def test_train_and_val_use_disjoint_digits(monkeypatch):
    import colormae.dense.scenes as scenes

    rows = {}
    for split in ("train", "val"):
        images, _ = scenes._digits(split)
        rows[split] = {images[i].tobytes() for i in range(len(images))}
    assert len(rows["train"]) > 3000 and len(rows["val"]) > 900
    assert len(rows["train"] & rows["val"]) < 5  # mnist has a few exact duplicate digits at most


def test_parse():
    assert parse_scenes("scenes") == 32 and parse_scenes("scenes:64") == 64
    assert parse_scenes("mnist5k") is None


def test_train_and_val_use_disjoint_photo_regions(monkeypatch):
    import colormae.data.photos as photos
    from colormae.dense.scenes import TRAIN_FRACTION, _background

    ramp = np.tile(np.arange(200, dtype=np.uint8)[None, :, None], (120, 1, 3))  # pixel value = its x
    from PIL import Image

    monkeypatch.setattr(photos, "load_photos", lambda: (("ramp",), (Image.fromarray(ramp),)))
    cut = int(200 * TRAIN_FRACTION)
    for i in range(30):
        train = _background(np.random.default_rng(i), "train", 32)
        val = _background(np.random.default_rng(i), "val", 32)
        assert train.max() < cut <= val.min()
