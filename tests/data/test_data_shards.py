"""`colormae data shard` and data=DIR-of-shards: the shards hold the folder's files byte for byte, read
back as the same images and labels, in a seeded shuffle; reruns skip, broken samples are skipped and
counted, mistakes are one line."""

import json
import tarfile

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from colormae.cli import main
from colormae.data import build_dataset, num_classes, skipped_total
from colormae.data.readers import read_image
from colormae.data.shard_writer import parse_size, write_shards
from colormae.data.shards import INDEX_FILE, is_shards, scan_members
from colormae.errors import UserError

pytest.importorskip("webdataset")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """train/ and val/ with JPEG, PNG and ``.npy`` files of 3 classes, and a stats file."""
    root = tmp_path_factory.mktemp("mixed")
    rng = np.random.default_rng(0)
    for split, n in (("train", 10), ("val", 3)):
        for c, name in enumerate(("cat", "dog", "owl")):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                arr = rng.integers(0, 255, (20 + i, 24, 3), dtype=np.uint8)
                kind = ("jpg", "png", "npy")[(i + c) % 3]
                path = root / split / name / f"{i}.{kind}"
                if kind == "npy":
                    np.save(path, arr)
                else:
                    Image.fromarray(arr).save(path)
    (root / "colormae_stats.json").write_text(json.dumps({
        "format": "colormae-stats/1", "channels": 3, "mean": [0.5] * 3, "std": [0.25] * 3}))
    return root


@pytest.fixture(scope="module")
def shards(mixed, tmp_path_factory):
    out = tmp_path_factory.mktemp("shards") / "s"
    write_shards(str(mixed), out, per_shard=7, seed=3, show_progress=False)
    return out


def _as_array(image):
    return np.asarray(image) if isinstance(image, Image.Image) else image.numpy()


def test_shards_hold_the_folders_files_and_read_back_the_same(mixed, shards):
    index = json.loads((shards / INDEX_FILE).read_text())
    assert index["complete"] and index["classes"] == ["cat", "dog", "owl"] and index["channels"] == 3
    assert [s["samples"] for s in index["splits"]["train"]["shards"]] == [7, 7, 7, 7, 2]
    assert index["splits"]["val"]["samples"] == 9 and index["stats"]["mean"] == [0.5] * 3
    assert (shards / "colormae_stats.json").is_file()  # normalize=dataset finds it
    ds = build_dataset(str(shards), split="train", transform=lambda x: x)
    assert len(ds) == 30 and num_classes(ds) == 3 and ds.channels == 3 and ds.dtype == "uint8"
    seen = []
    for shard in sorted(shards.glob("train-*.tar")):
        with tarfile.open(shard) as tar:
            seen += [json.loads(tar.extractfile(m).read()) for m in tar if m.name.endswith(".json")]
    assert len(seen) == 30 and len({m["path"] for m in seen}) == 30
    paths = [m["path"] for m in seen]
    assert paths != sorted(paths)  # shuffled once (not class-sorted)
    for i, meta in enumerate(seen):
        image, label = ds[i]
        assert label == meta["label"] == ["cat", "dog", "owl"].index(meta["path"].split("/")[0])
        data, suffix, _ = ds.raw(i)
        assert data == (mixed / "train" / meta["path"]).read_bytes()  # the file as it was
        assert suffix == "." + meta["path"].rsplit(".", 1)[1]
        assert np.array_equal(_as_array(image), _as_array(read_image(mixed / "train" / meta["path"])))
    assert ds.targets == [m["label"] for m in seen]


def test_order_is_a_function_of_the_seed(mixed, tmp_path, shards):
    write_shards(str(mixed), tmp_path / "again", per_shard=7, seed=3, show_progress=False)
    write_shards(str(mixed), tmp_path / "other", per_shard=7, seed=4, show_progress=False)
    a = (shards / "train-000000.tar").read_bytes()
    assert (tmp_path / "again" / "train-000000.tar").read_bytes() == a
    assert (tmp_path / "other" / "train-000000.tar").read_bytes() != a


def test_brace_pattern_and_single_tar_read_the_same_samples(shards):
    folder = build_dataset(str(shards), split="train")
    pattern = build_dataset(str(shards / "train-{000000..000004}.tar"))
    assert is_shards(str(shards / "train-000000.tar")) and len(pattern) == 30
    assert pattern.classes == ["cat", "dog", "owl"]  # from the index next to the shards
    for i in (0, 13, 29):
        assert torch.equal(folder[i][0], pattern[i][0]) and folder[i][1] == pattern[i][1]
    one = build_dataset(str(shards / "train-000004.tar"))
    assert len(one) == 2 and torch.equal(one[1][0], folder[29][0])


def test_rerun_skips_finished_shards_and_other_settings_are_refused(mixed, tmp_path):
    out = tmp_path / "s"
    write_shards(str(mixed), out, per_shard=10, show_progress=False)
    first = out / "train-000000.tar"
    stamp = first.stat().st_mtime_ns
    (out / "train-000002.tar").unlink()  # as if interrupted while writing it
    write_shards(str(mixed), out, per_shard=10, show_progress=False)
    assert first.stat().st_mtime_ns == stamp and (out / "train-000002.tar").is_file()
    with pytest.raises(UserError, match="other settings"):
        write_shards(str(mixed), out, per_shard=5, show_progress=False)


def test_unfinished_index_is_refused(shards, tmp_path):
    index = json.loads((shards / INDEX_FILE).read_text())
    (tmp_path / INDEX_FILE).write_text(json.dumps({**index, "complete": False}))
    with pytest.raises(UserError, match="unfinished"):
        build_dataset(str(tmp_path))


def test_shard_size_cuts_by_bytes(mixed, tmp_path):
    index = write_shards(str(mixed), tmp_path / "s", shard_size=parse_size("40kB"), show_progress=False)
    sizes = [(tmp_path / "s" / s["name"]).stat().st_size for s in index["splits"]["train"]["shards"]]
    assert len(sizes) > 3 and max(sizes) <= 40_960  # the asked size, up to the tar's 10240-byte record
    assert min(sizes[:-1]) >= 20_480  # and not much smaller
    assert sum(s["samples"] for s in index["splits"]["train"]["shards"]) == 30
    assert parse_size("1GB") == 10**9 and parse_size("256MiB") == 256 * 2**20
    with pytest.raises(UserError, match="shard-size"):
        parse_size("big")


def test_builtin_set_and_16bit_tiff(tmp_path):
    index = write_shards("mnist5k", tmp_path / "p", per_shard=1000, show_progress=False)
    assert index["splits"]["train"]["samples"] == 4000 and index["channels"] == 1
    ref = build_dataset("mnist5k", split="val", transform=lambda x: x)
    got = build_dataset(str(tmp_path / "p"), split="val", transform=lambda x: x)
    meta = json.loads(tarfile.open(tmp_path / "p" / "val-000000.tar").extractfile("000000000.json").read())
    k = int(meta["path"].split(".")[0])
    assert np.array_equal(np.asarray(got[0][0]), np.asarray(ref[k][0])) and got[0][1] == ref[k][1]
    (tmp_path / "t" / "a").mkdir(parents=True)
    arr = np.random.default_rng(0).integers(0, 65535, (5, 16, 16), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "t" / "a" / "x.tif", arr)
    write_shards(str(tmp_path / "t"), tmp_path / "ts", show_progress=False)
    ds = build_dataset(str(tmp_path / "ts"))
    assert ds.channels == 5 and ds.dtype == "uint16"
    assert torch.allclose(ds[0][0], torch.from_numpy(arr.astype(np.float32) / 65535))


def test_unreadable_sample_is_skipped_and_counted(tmp_path):
    import webdataset as wds

    good = tmp_path / "g.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(good)
    with wds.TarWriter(str(tmp_path / "x-0.tar")) as sink:
        sink.write({"__key__": "a", "png": good.read_bytes(), "cls": "0"})
        sink.write({"__key__": "b", "jpg": b"not a jpeg", "cls": "1"})
        sink.write({"__key__": "c", "png": good.read_bytes(), "cls": "1"})
    assert scan_members(tmp_path / "x-0.tar")[:, 3].tolist() == [0, 1, 1]
    ds = build_dataset(str(tmp_path / "x-{0..0}.tar"))
    assert len(ds) == 3 and ds.classes == ["0", "1"]
    assert ds[1][1] == 1 and ds.skipped == 1 and skipped_total(ds) == 1  # b replaced by c, counted once
    ds[1]
    assert ds.skipped == 1


def test_cli_and_mistakes(mixed, tmp_path, capsys):
    assert main(["data", "shard", str(mixed), "-o", str(tmp_path / "c"), "--per-shard", "100",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "train: 30 images in 1 shard(s); val: 9 images in 1 shard(s)" in out
    assert main(["data", "shard", str(tmp_path / "nope"), "-o", str(tmp_path / "d")]) == 2
    assert main(["pretrain", "--out", str(tmp_path / "r"), f"data={tmp_path}/x-{{0..3}}.tar"]) == 2
    err = capsys.readouterr().err
    assert err.count("error: ") == 2 and "do not exist" in err and "Traceback" not in err
