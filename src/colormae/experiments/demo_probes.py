"""The demo's evaluation step: linear probe and k-NN on ``mnist5k`` for a checkpoint and for a randomly
initialised encoder of the same preset, as one markdown table.

Features of the 4,000 / 1,000 split are computed once per encoder and shared by both probes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from colormae.eval.knn import knn_classify
from colormae.eval.linprobe import train_linear_probe
from colormae.eval.probes import encode_splits
from colormae.eval.results import write_results
from colormae.loading import RANDOM_PREFIX, Loaded, load
from colormae.models import PRESETS, MaskedAutoencoder


def random_twin(loaded: Loaded, seed: int = 0) -> Loaded:
    """A randomly initialised MAE with ``loaded``'s exact config (MAE init, seeded)."""
    config = loaded.config
    name = next((n for n, p in PRESETS.items() if p == config), "same config")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MaskedAutoencoder(config).eval()
    return Loaded("random", model, config, "random", RANDOM_PREFIX + name)


def demo_probes(run_dir: str | Path, *, device: str | torch.device = "cpu", quick: bool = False,
                data: str = "mnist5k", seed: int = 0, progress: bool = False) -> dict[str, Any]:
    """Probe ``run_dir``'s encoder and a random-init encoder of the same preset.

    Returns ``{"table": markdown, "linprobe": {"pretrained": top1, "random_init": top1}, "knn": {...}}``.

    Linear probe: [CLS] features computed once, BatchNorm (no affine) + linear head, SGD, cosine, 90
    epochs (30 with ``quick``). k-NN: k = 20, T = 0.07. Results are also written to
    ``<run_dir>/eval/probes.json``.
    """
    trained = load(run_dir)
    rows, results = [], {}
    epochs = 30 if quick else 90
    for label, enc in (("pretrained", trained), ("random init", random_twin(trained, seed))):
        fs = encode_splits(enc, data, feature="cls", device=device, progress=progress)
        knn = knn_classify(fs.train_x, fs.train_y, fs.val_x, fs.val_y, num_classes=fs.num_classes)
        lp = train_linear_probe((fs.train_x, fs.train_y), (fs.val_x, fs.val_y), num_classes=fs.num_classes,
                                epochs=epochs, batch_size=256, warmup_epochs=max(epochs // 9, 1),
                                device=device, seed=seed, progress=progress)
        results[label] = {"checkpoint": enc.name, "linprobe_top1": lp.top1, "linprobe_top5": lp.top5,
                          "knn_top1": knn["top1"], "knn_top5": knn["top5"]}
        rows.append(f"| {label} | {lp.top1:.1f} | {lp.top5:.1f} | {knn['top1']:.1f} | {knn['top5']:.1f} |")
    out = Path(run_dir)
    if out.is_dir():
        write_results(out / "eval" / "probes.json", {"data": data, "linprobe_epochs": epochs, **results})
    head = [f"Probes on {data} ({len(fs.train_y)} train / {len(fs.val_y)} val, [CLS] feature)", "",
            "| encoder | linear top-1 | linear top-5 | k-NN top-1 | k-NN top-5 |",
            "|---|---:|---:|---:|---:|"]
    summary = {probe: {key.replace(" ", "_"): results[key][f"{probe}_top1"] for key in results}
               for probe in ("linprobe", "knn")}
    return {"table": "\n".join(head + rows), **summary}
