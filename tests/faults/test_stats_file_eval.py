"""``stats_file=FILE`` on the evaluation jobs: `data stats DIR -o FILE` for a read-only DIR, then linprobe /
finetune with ``normalize=dataset`` read those numbers (not the per-user cache, not ImageNet's)."""

from __future__ import annotations

import json

import torch
from mounts import run_cli

from colormae.cli import main

PROBE = ["--epochs", "1", "--num-workers", "0", "--no-progress", "--device", "cpu", "normalize=dataset"]


def _stats(tiny_folder, path):
    assert main(["data", "stats", str(tiny_folder), "-o", str(path), "--no-progress"]) == 0
    assert not (tiny_folder / "colormae_stats.json").exists()
    return json.loads(path.read_text())


def test_linprobe_on_a_read_only_folder_with_a_stats_file(tmp_path, tiny_folder):
    data = tmp_path / "shared"
    for split in ("train", "val"):
        for src in (tiny_folder / split).rglob("*.png"):
            dst = data / split / src.parent.name / src.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
    stats = tmp_path / "mine" / "stats.json"
    made = run_cli(["data", "stats", str(data), "-o", str(stats), "--no-progress"], data, bind=True)
    assert made.returncode == 0, made.stderr
    env = {"XDG_CACHE_HOME": str(tmp_path / "nocache")}  # no per-user stats file to fall back on (without
    # stats_file this is refused: tests/faults/test_read_only_data.py)
    args = ["linprobe", "random:mae_vit_micro_32px", "--data", str(data), *PROBE,
            "--out", str(tmp_path / "p")]
    probed = run_cli([*args, f"stats_file={stats}"], data, bind=True, env=env)
    assert probed.returncode == 0, probed.stderr[-2000:]
    assert json.loads((tmp_path / "p" / "linprobe.json").read_text())["val_size"] == 12


def test_linprobe_features_are_normalised_with_the_stats_file(tmp_path, tiny_folder):
    from safetensors.torch import load_file

    from colormae.data import build_dataset, eval_transform
    from colormae.data.normalization import Normalization
    from colormae.eval.features import extract_features
    from colormae.loading import load

    entry = _stats(tiny_folder, tmp_path / "stats.json")
    cache = tmp_path / "cache"
    assert main(["linprobe", "random:mae_vit_micro_32px", "--data", str(tiny_folder), *PROBE,
                 f"stats_file={tmp_path / 'stats.json'}", "--cache-dir", str(cache)]) == 0
    cached = {blob["features"].shape[0]: blob["features"]
              for blob in map(load_file, map(str, cache.glob("features-*.safetensors")))}
    model = load("random:mae_vit_micro_32px", seed=0).model
    norm = Normalization(tuple(entry["mean"]), tuple(entry["std"]), "dataset")
    val = build_dataset(str(tiny_folder), split="val", transform=eval_transform((32, 32), norm), channels=3)
    reference, _ = extract_features(model, val, batch_size=256, progress=False)
    assert torch.equal(cached[12], reference)
    imagenet = build_dataset(str(tiny_folder), split="val", transform=eval_transform((32, 32)), channels=3)
    assert not torch.allclose(extract_features(model, imagenet, progress=False)[0], reference)


def test_finetune_records_the_stats_file_normalisation(tmp_path, tiny_folder):
    from colormae.config import load_config
    from colormae.eval.finetune import finetune
    from colormae.jobs.finetune import FinetuneConfig
    from colormae.loading import load

    entry = _stats(tiny_folder, tmp_path / "stats.json")
    out = tmp_path / "ft"
    finetune(load_config(FinetuneConfig, values=dict(
        epochs=1, batch_size=8, num_workers=0, progress=False, warmup_epochs=1, normalize="dataset",
        stats_file=str(tmp_path / "stats.json"), ckpt="random:mae_vit_micro_32px", data=str(tiny_folder),
        out=str(out))))
    data = load(out).checkpoint["data"]
    assert data["mean"] == entry["mean"] and data["std"] == entry["std"]
