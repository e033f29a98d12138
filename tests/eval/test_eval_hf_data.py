"""data=hf:PATH: a Hugging Face data set on disk (save_to_disk folder or parquet files) reads as the
same images and labels as the folder it was made from, and a linear probe on it gives the folder's
results exactly."""

import json

import numpy as np
import pytest
import torch

from colormae.cli import main
from colormae.data import build_dataset, num_classes
from colormae.errors import UserError

datasets = pytest.importorskip("datasets")


def _hf_from_folder(root):
    """A DatasetDict (train / validation) holding the folder's files' bytes in the folder's order."""
    splits = {}
    for split, name in (("train", "train"), ("val", "validation")):
        folder = build_dataset(str(root), split=split)
        rows = {"image": [{"bytes": open(p, "rb").read(), "path": p} for p, _ in folder.samples],
                "label": [t for _, t in folder.samples]}
        features = datasets.Features({"image": datasets.Image(),
                                      "label": datasets.ClassLabel(names=list(folder.classes))})
        splits[name] = datasets.Dataset.from_dict(rows, features=features)
    return datasets.DatasetDict(splits)


@pytest.fixture(scope="module")
def hf_disk(tiny_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("hf") / "tiny"
    _hf_from_folder(tiny_folder).save_to_disk(str(out))
    return out


def test_save_to_disk_and_parquet_read_as_the_folder(tiny_folder, hf_disk, tmp_path):
    ds = _hf_from_folder(tiny_folder)
    for split in ("train", "validation"):
        ds[split].to_parquet(str(tmp_path / "pq" / "data" / f"{split}-00000-of-00001.parquet"))
    for data in (f"hf:{hf_disk}", f"hf:{tmp_path / 'pq'}"):
        for split in ("train", "val"):
            ref = build_dataset(str(tiny_folder), split=split)
            got = build_dataset(data, split=split)
            assert len(got) == len(ref) and got.classes == ["blue", "green", "red"] == ref.classes
            assert num_classes(got) == 3 and got.channels == 3 and got.dtype == "uint8"
            for i in range(0, len(ref), 5):
                assert torch.equal(got[i][0], ref[i][0]) and got[i][1] == ref[i][1]


def test_columns_are_found_or_named(tmp_path):
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.fromarray(np.full((8, 8, 3), 7, np.uint8)).save(buffer, format="PNG")
    png = buffer.getvalue()
    datasets.Dataset.from_dict({"pix": [png, png], "y": [0, 4]}).save_to_disk(str(tmp_path / "raw"))
    with pytest.raises(UserError, match="image_column"):
        build_dataset(f"hf:{tmp_path / 'raw'}")
    ds = build_dataset(f"hf:{tmp_path / 'raw'}?image_column=pix&label_column=y")
    assert len(ds) == 2 and ds[1][1] == 4 and len(ds.classes) == 5 and ds[0][0].shape == (3, 8, 8)
    with pytest.raises(UserError, match="unknown option"):
        build_dataset(f"hf:{tmp_path / 'raw'}?image=pix")
    with pytest.raises(UserError, match="does not exist"):
        build_dataset(f"hf:{tmp_path / 'nope'}")


def test_linear_probe_on_hf_equals_the_folder(tiny_folder, hf_disk, tmp_path):
    results = []
    for data in (str(tiny_folder), f"hf:{hf_disk}"):
        out = tmp_path / str(len(results))
        assert main(["linprobe", "random:mae_vit_micro_32px", "--data", data, "--out", str(out),
                     "--no-progress", "--device", "cpu", "--batch-size", "8", "--epochs", "3",
                     "--warmup-epochs", "1"]) == 0
        results.append(json.loads((out / "linprobe.json").read_text()))
    folder, hf = results
    assert folder["history"] == hf["history"] and len(folder["history"]) == 3
    for key in ("top1", "top5", "per_class_acc", "train_size", "val_size"):
        assert folder[key] == hf[key], key


def test_knn_on_shards_equals_the_folder(tiny_folder, tmp_path):
    """Evaluation jobs read data=DIR-of-shards through the same resolver (order differs: shuffled once;
    k-NN does not depend on it)."""
    pytest.importorskip("webdataset")
    from colormae.data.shard_writer import write_shards

    write_shards(str(tiny_folder), tmp_path / "s", per_shard=5, show_progress=False)
    results = []
    for data in (str(tiny_folder), str(tmp_path / "s")):
        out = tmp_path / f"knn{len(results)}"
        assert main(["knn", "random:mae_vit_micro_32px", "--data", data, "--out", str(out), "--no-progress",
                     "--device", "cpu", "--k", "3"]) == 0
        results.append(json.loads((out / "knn.json").read_text()))
    for key in ("top1", "per_class_acc", "train_size", "val_size"):
        assert results[0][key] == results[1][key], key


def test_stats_of_an_hf_data_set_go_next_to_it(hf_disk, capsys):
    from colormae.data import find_stats_file
    from colormae.data.resolve import resolve_normalization

    assert main(["data", "stats", f"hf:{hf_disk}", "--no-progress"]) == 0
    assert find_stats_file(f"hf:{hf_disk}") == hf_disk / "colormae_stats.json"
    norm = resolve_normalization("dataset", 3, f"hf:{hf_disk}", progress=False)
    assert norm.source == str(hf_disk / "colormae_stats.json") and len(norm.mean) == 3
