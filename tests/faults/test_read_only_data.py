"""A read-only data set works with normalize=dataset: `data stats -o FILE` + `stats_file=FILE`, or the
per-user cache; unreadable images are counted in the report ("24 of 25 images, 1 unreadable image")."""

from __future__ import annotations

import json

import numpy as np
from mounts import run_cli
from PIL import Image

from colormae.cli import main

TINY = ["model=mae_vit_micro_32px", "num_workers=0", "bank_size=16", "pattern_size=16", "batch_size=4",
        "epochs=1", "max_steps=1", "device=cpu", "--no-progress", "normalize=dataset"]


def _folder(root, n=6):
    rng = np.random.default_rng(0)
    arrays = []
    for i in range(n):
        (root / "a").mkdir(parents=True, exist_ok=True)
        arr = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(arr).save(root / "a" / f"{i}.png")
        arrays.append(arr)
    (root / "a" / "broken.png").write_bytes(b"not a png")
    return arrays


def test_data_stats_counts_the_unreadable_image(tmp_path, capsys):
    arrays = _folder(tmp_path / "d")
    assert main(["data", "stats", str(tmp_path / "d"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "6 of 7 images, 1 unreadable image skipped," in out
    entry = json.loads((tmp_path / "d" / "colormae_stats.json").read_text())
    pixels = np.stack(arrays).reshape(-1, 3).astype(np.float64) / 255
    np.testing.assert_allclose(entry["mean"], pixels.mean(axis=0), atol=1e-5)
    assert entry["unreadable_images"] == 1 and entry["images"] == 6 and not entry["sampled"]


def test_read_only_data_set_with_stats_file(tmp_path):
    data = tmp_path / "shared"
    _folder(data)
    stats = tmp_path / "mine" / "stats.json"
    made = run_cli(["data", "stats", str(data), "-o", str(stats), "--no-progress"], data, bind=True)
    assert made.returncode == 0, made.stderr
    assert json.loads(stats.read_text())["channels"] == 3 and not (data / "colormae_stats.json").exists()
    refused = run_cli(["pretrain", "--out", str(tmp_path / "r0"), "data=" + str(data), *TINY], data,
                      bind=True,
                      env={"XDG_CACHE_HOME": str(tmp_path / "nocache")})
    assert refused.returncode == 2 and "stats_file=FILE" in refused.stderr
    trained = run_cli(["pretrain", "--out", str(tmp_path / "r1"), "data=" + str(data), *TINY,
                       f"stats_file={stats}"], data, bind=True)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "dataset normalisation" in trained.stdout + trained.stderr


def test_read_only_data_set_with_the_per_user_cache(tmp_path):
    data = tmp_path / "shared"
    _folder(data)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    made = run_cli(["data", "stats", str(data), "--no-progress"], data, bind=True, env=env)
    assert made.returncode == 0, made.stderr
    assert "is read-only: a per-user file" in made.stdout
    assert len(list((tmp_path / "cache" / "colormae" / "stats").glob("shared-*.json"))) == 1
    trained = run_cli(["pretrain", "--out", str(tmp_path / "r"), "data=" + str(data), *TINY], data, bind=True,
                      env=env)
    assert trained.returncode == 0, trained.stderr[-2000:]


def test_knn_reports_the_unreadable_images_at_the_end(tmp_path, capsys):
    for split in ("train", "val"):
        for name in ("a", "b"):
            (tmp_path / "d" / split / name).mkdir(parents=True)
            for i in range(3):
                Image.fromarray(np.full((8, 8, 3), 60 * i + (name == "b") * 100, np.uint8)).save(
                    tmp_path / "d" / split / name / f"{i}.png")
    (tmp_path / "d" / "train" / "a" / "broken.png").write_bytes(b"not a png")
    assert main(["knn", "random:mae_vit_micro_32px", "--data", str(tmp_path / "d"), "--num-workers", "0",
                 "--no-progress", "--device", "cpu", "--k", "2"]) == 0
    err = capsys.readouterr().err
    assert f"warning: {tmp_path / 'd'}: train: 1 unreadable image skipped (6 used)" in err
