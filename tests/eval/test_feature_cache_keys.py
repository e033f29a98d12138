"""The feature cache keys name data sets and weights the same from any working directory, and never read a
spec (``hf:...``, ``random:...``, ``timm:...``) as a path of the working directory."""

from __future__ import annotations

import os

import pytest

from colormae.data.build import data_key
from colormae.eval.features import weights_fingerprint


def test_data_key_of_specs_and_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs").mkdir()
    assert data_key("mnist5k") == "mnist5k"
    assert data_key("imgs") == str(tmp_path / "imgs") == data_key(tmp_path / "imgs")
    assert data_key("hf:sets/tiny?image_column=img") == f"hf:{tmp_path / 'sets' / 'tiny'}?image_column=img"
    assert data_key(f"hf:{tmp_path}/sets/tiny") == f"hf:{tmp_path / 'sets' / 'tiny'}"
    pattern = "shards/train-{000000..000003}.tar"
    assert data_key(pattern) == str(tmp_path / pattern)


def test_weights_fingerprint_never_reads_a_spec_as_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for spec in ("random:mae_vit_tiny_32px", "hf:org/model", "timm:vit_small"):
        os.makedirs(spec, exist_ok=True)  # a folder of that name in the working directory changes nothing
        assert weights_fingerprint(spec, seed=3) == f"{spec}:seed=3"
    ckpt = tmp_path / "c.pt"
    ckpt.write_bytes(b"12345")
    assert weights_fingerprint("c.pt").startswith(f"{ckpt}:5:")


def test_an_hf_data_set_shares_its_feature_cache_across_working_directories(tmp_path, tiny_folder,
                                                                            monkeypatch):
    datasets = pytest.importorskip("datasets")
    from colormae.data import build_dataset
    from colormae.eval.probes import encode_splits
    from colormae.loading import load

    splits = {}
    for split, name in (("train", "train"), ("val", "validation")):
        folder = build_dataset(str(tiny_folder), split=split)
        features = datasets.Features({"image": datasets.Image(),
                                      "label": datasets.ClassLabel(names=list(folder.classes))})
        splits[name] = datasets.Dataset.from_dict(
            {"image": [{"bytes": open(p, "rb").read(), "path": p} for p, _ in folder.samples],
             "label": [t for _, t in folder.samples]}, features=features)
    datasets.DatasetDict(splits).save_to_disk(str(tmp_path / "sets" / "tiny"))
    cache, loaded = tmp_path / "cache", load("random:mae_vit_micro_32px")
    monkeypatch.chdir(tmp_path / "sets")
    first = encode_splits(loaded, "hf:tiny", cache_dir=cache, progress=False)
    made = sorted(p.stat().st_mtime_ns for p in cache.iterdir())
    monkeypatch.chdir(tmp_path)
    again = encode_splits(loaded, f"hf:{tmp_path / 'sets' / 'tiny'}", cache_dir=cache, progress=False)
    assert len(made) == 2 and sorted(p.stat().st_mtime_ns for p in cache.iterdir()) == made  # reused
    assert first.val_x.equal(again.val_x) and first.train_y.equal(again.train_y)
