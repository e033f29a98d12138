"""Watching pretraining: reconstruction images and online k-NN in TensorBoard and metrics.jsonl; W&B."""

from __future__ import annotations

import pytest
import torch

from colormae.config import load_config
from colormae.jobs.pretrain import PretrainConfig
from colormae.pretrain.run import pretrain
from colormae.train.metrics import read_metrics

TINY = dict(model="mae_vit_micro_32px", data="mnist5k", num_workers=0, bank_size=16, pattern_size=16,
            batch_size=8, epochs=1, warmup_epochs=0, lr=1e-3, device="cpu", progress=False, ckpt_every=0)


def _events(run_dir):
    """Scalar and image tags of the run's TensorBoard event files: ``{tag: [(step, value or image)]}``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in tags["scalars"]}
    images = {t: [(e.step, e) for e in acc.Images(t)] for t in tags["images"]}
    return scalars, images


def _run(tmp_path, **more):
    cfg = load_config(PretrainConfig, values={**TINY, "out": str(tmp_path / "run"), **more})
    return pretrain(cfg)


def test_monitors_write_images_and_knn(tmp_path, capsys):
    _run(tmp_path, max_steps=6, log_every=3, viz_every=3, viz_images=3, monitor_knn="mnist5k",
         monitor_every=3, monitor_cap=40)
    scalars, images = _events(tmp_path / "run")
    assert [s for s, _ in images["monitor/recon"]] == [0, 3, 6]
    image = images["monitor/recon"][0][1]
    assert (image.height, image.width) == (3 * 34 + 2, 4 * 34 + 2)  # a row per image, 4 panels, 2 px pads
    assert [s for s, _ in scalars["monitor/knn_top1"]] == [0, 3, 6]
    assert all(0 <= v <= 100 for _, v in scalars["monitor/knn_top1"] + scalars["monitor/knn_balanced_acc"])
    coverage = [v for _, v in scalars["monitor/mask_coverage"]]
    assert coverage == [pytest.approx(0.75)] * 3  # micro: 4x4 patches, 12 of 16 masked
    rows = read_metrics(tmp_path / "run")
    knn = [r for r in rows if "knn_top1" in r]
    assert [r["step"] for r in knn] == [0, 3, 6] and all(r["knn_seconds"] > 0 for r in knn)
    assert all(r["knn_top1"] == r["knn_top1_cls"] for r in knn)  # default monitor_feature=cls
    assert [s for s, _ in scalars["monitor/knn_top1_mean"]] == [0, 3, 6]
    assert "knn_share" in knn[1] and "knn_share" not in knn[0]
    assert [r["step"] for r in rows if "loss" in r] == [3, 6]  # the loss records are untouched
    out = capsys.readouterr().out
    assert "k-NN top-1" in out and "of [CLS] features on mnist5k (40 + 40 images), patch-mean " in out


def test_monitors_do_not_change_training(tmp_path):
    """Monitors read no random stream: the weights equal a run without them."""
    plain = _run(tmp_path / "a", max_steps=3).model.state_dict()
    watched = _run(tmp_path / "b", max_steps=3, viz_every=1, monitor_knn="mnist5k", monitor_every=2,
                   monitor_cap=20).model.state_dict()
    for key in plain:
        assert torch.equal(plain[key], watched[key]), key


def test_knn_monitor_features_are_the_knn_jobs(capsys):
    """One encoder pass gives both features; each equals ``train.knn.encode``'s, and ``feature`` picks
    what ``knn_top1`` / ``knn_balanced_acc`` are of."""
    from colormae.models import create_mae
    from colormae.pretrain.monitors import KnnMonitor
    from colormae.train.knn import encode, knn_accuracy

    torch.manual_seed(0)
    model = create_mae("mae_vit_micro_32px")
    x, y = torch.randn(30, 3, 32, 32), torch.arange(30) % 3
    monitor = KnnMonitor(model, x[:20], y[:20], x[20:], y[20:], 3, 1, "toy", torch.device("cpu"),
                         feature="mean")
    features = monitor.features(x)
    assert model.training  # put back in the mode it was in
    model.eval()
    for f in ("cls", "mean"):
        torch.testing.assert_close(features[f], encode(model, x, f))
    assert monitor.evaluate()["mean"] == knn_accuracy(
        features["mean"][:20], y[:20], features["mean"][20:], y[20:], num_classes=3)
    records: list[dict] = []

    class Logger:
        def log(self, record, prefix=""):
            records.append(record)

    monitor(0, Logger())
    (record,) = records
    assert record["knn_top1"] == record["knn_top1_mean"] and "knn_top1_cls" in record
    assert "of patch-mean features on toy (20 + 10 images), [CLS] " in capsys.readouterr().out


def test_knn_monitor_rejects_unlabelled_data(tmp_path):
    from colormae.errors import UserError

    with pytest.raises(UserError, match="monitor_knn"):
        _run(tmp_path, max_steps=1, monitor_knn=str(tmp_path / "missing"))


def _leveldb_records(data: bytes):
    """The records of a LevelDB-log file (the ``.wandb`` format after its 7-byte W&B header): 32 KiB
    blocks of chunks ``crc32 (4) | length (2, LE) | type (1: full, 2: first, 3: middle, 4: last)``.
    Read by hand because wandb >= 0.19 no longer ships a Python reader of its own files."""
    block, pos, parts = 32768, 7, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # the block's tail is padding
            pos += block - pos % block
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 0 and length == 0:
            break
        parts = chunk if kind in (1, 2) else parts + chunk
        if kind in (1, 4):
            yield parts


def _wandb_history(run_dir):
    """``[{key: json value, "_step": s}]`` of the offline W&B run under ``run_dir/wandb``."""
    from wandb.proto import wandb_internal_pb2

    (path,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    rows = []
    for blob in _leveldb_records(data):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(blob)
        if record.WhichOneof("record_type") == "history":
            rows.append({item.key or "/".join(item.nested_key): item.value_json
                         for item in record.history.item})
    return rows


def test_wandb_offline_holds_the_same_scalars(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    import json

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    _run(tmp_path, max_steps=4, log_every=2, logger="wandb", viz_every=2, monitor_knn="mnist5k",
         monitor_every=2, monitor_cap=20)
    history = _wandb_history(tmp_path / "run")
    logged: dict[tuple[int, str], float] = {}
    images = set()
    for row in history:
        step = int(json.loads(row["_step"]))
        for key, value in row.items():
            if key == "monitor/recon/_type":  # an image is logged as a file and its nested fields
                assert json.loads(value) == "image-file"
                images.add((step, "monitor/recon"))
            elif not key.startswith(("_", "monitor/recon/")):
                logged[(step, key)] = json.loads(value)
    expected = {}
    for record in read_metrics(tmp_path / "run"):
        prefix = "train" if "loss" in record else "monitor"
        for key, value in record.items():
            if key != "step":
                expected[(record["step"], f"{prefix}/{key}")] = value
    assert logged == pytest.approx(expected)
    assert images == {(0, "monitor/recon"), (2, "monitor/recon"), (4, "monitor/recon")}


@pytest.mark.slow
def test_knn_monitor_sees_the_demo_run_learn(tmp_path):
    """The issue's run (cpu_demo, viz_every=50, monitor_knn=mnist5k, monitor_every=50) taken to 300 steps:
    TensorBoard holds the reconstruction image and the k-NN scalars of both features every 50 steps, and
    both features' k-NN top-1 at step 300 is above step 0 by more than twice the subset spread (1.5 points).

    300 steps, not the issue's 100: MAE's pooled features first get worse than a random encoder's. Measured
    (seed 0, cap 1,000, [CLS] / patch mean): 40.0 / 37.3 % at step 0, 33.5 / 32.7 % at step 100, 34.4 /
    35.7 % at 150, 41.5 / 40.0 % at 200, 48.4 / 47.8 % at 300. None of 13 variants of the recipe run for
    100 steps (lr 3e-4 to 5e-3, batch 16 to 512, random masking, mask ratio 0.5, no norm-pix loss, no weight
    decay, the micro model) ends above its step 0 by more than that spread (docs/training.md).
    """
    from colormae.config import recipe

    cfg = load_config(PretrainConfig, path=recipe("cpu_demo"),
                      values={"out": str(tmp_path / "run"), "progress": False, "max_steps": 300,
                              "viz_every": 50, "monitor_knn": "mnist5k", "monitor_every": 50})
    pretrain(cfg)
    scalars, images = _events(tmp_path / "run")
    steps = list(range(0, 301, 50))
    assert [s for s, _ in images["monitor/recon"]] == steps
    for tag in ("monitor/knn_top1", "monitor/knn_top1_cls", "monitor/knn_top1_mean"):
        assert [s for s, _ in scalars[tag]] == steps, tag
    assert dict(scalars["monitor/knn_top1"]) == dict(scalars["monitor/knn_top1_cls"])  # the default feature
    for tag in ("monitor/knn_top1_cls", "monitor/knn_top1_mean"):
        top1 = dict(scalars[tag])
        print(tag, top1)
        assert top1[300] > top1[0] + 3.0, (tag, top1)
