"""Fine-tuning on the shared engine: runs, reports Top-1 / Top-5 every epoch, resumes bit-exactly."""

import json

import torch

from colormae import load
from colormae.config import load_config
from colormae.eval.finetune import finetune
from colormae.jobs.finetune import FinetuneConfig
from colormae.train.checkpoint import load_checkpoint

ARGS = dict(epochs=2, batch_size=8, num_workers=0, progress=False, ema_decay=0.9, seed=3, warmup_epochs=1,
            ckpt="random:mae_vit_micro_32px")


def job(out, **kw) -> FinetuneConfig:
    return load_config(FinetuneConfig, values={**ARGS, "out": str(out), **kw})


def test_finetune_runs_evaluates_and_resumes_exactly(tmp_path, tiny_folder):
    data = str(tiny_folder)
    full = finetune(job(tmp_path / "full", data=data))
    # 24 train images / batch 8 = 3 steps per epoch; a validation line after each of the 2 epochs
    assert full["steps"] == 6
    lines = [json.loads(x) for x in (tmp_path / "full" / "eval.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines] == [1, 2]
    assert all(0 <= x["top1"] <= 100 and x["top5"] == 100.0 and "ema_top1" in x for x in lines)
    assert json.loads((tmp_path / "full" / "finetune.json").read_text())["top1"] == lines[-1]["top1"]

    finetune(job(tmp_path / "cut", data=data), stop_at_step=4)
    with open(tmp_path / "cut" / "eval.jsonl", "a") as fh:  # as if validated after the last checkpoint,
        fh.write(json.dumps({"epoch": 2, "top1": -1.0}) + '\n{"epoch": 2, "to')  # then killed mid-write
    resumed = finetune(job(tmp_path / "cut", data=data, resume="auto"))
    # the resumed log and report hold each validation once: the straight run's (epoch 1 from before the
    # stop) and the stopped run's own last one (step 4 = epoch 1.333), not the dropped record or torn line
    cut = [json.loads(x) for x in (tmp_path / "cut" / "eval.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in cut] == [1, 1.333, 2]
    assert [x for x in cut if x["epoch"] != 1.333] == lines == full["history"]
    assert resumed["history"] == cut
    a, b = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "cut")
    assert a["kind"] == "finetune" and a["model_config"]["num_classes"] == 3 and a["step"] == b["step"] == 6
    for key in ("model", "ema"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), f"{key}.{name}"
    loaded = load(tmp_path / "full")
    assert loaded.kind == "finetune" and loaded.source_format == "colormae"
    assert loaded.model(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    ema = load(tmp_path / "full", ema=True).model.state_dict()
    assert all(torch.equal(ema[k], a["ema"][k]) for k in ema)


def test_demo_probes_table(tmp_path, tiny_folder):
    from colormae.convert import export_colormae
    from colormae.experiments.demo_probes import demo_probes
    from colormae.models import create_mae

    torch.manual_seed(5)
    export_colormae(create_mae("mae_vit_micro_32px"), tmp_path / "run" / "checkpoints" / "step-00000001.pt")
    probes = demo_probes(tmp_path / "run", data=str(tiny_folder), quick=True)
    lines = probes["table"].splitlines()
    assert set(probes["knn"]) == set(probes["linprobe"]) == {"pretrained", "random_init"}
    assert lines[2].startswith("| encoder |") and lines[4].startswith("| pretrained |")
    assert lines[5].startswith("| random init |") and len(lines) == 6
    saved = json.loads((tmp_path / "run" / "eval" / "probes.json").read_text())
    assert saved["random init"]["checkpoint"] == "random:mae_vit_micro_32px"
    assert saved["pretrained"]["knn_top5"] == 100.0  # 3 classes


def test_train_transform_survives_max_magnitude_on_grey_images():
    import numpy as np
    from PIL import Image

    from colormae.eval.finetune import safe_rand_augment, train_transform

    assert safe_rand_augment("rand-m9-mstd0.5-inc1") == "rand-m9-mstd0.5-inc1-mmax9"
    assert safe_rand_augment("rand-m9-mmax10") == "rand-m9-mmax10" and safe_rand_augment(None) is None
    torch.manual_seed(0)
    tf = train_transform(32, auto_augment="rand-m10-mstd2-inc1")  # magnitude pinned near the top
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (28, 28), dtype=np.uint8))
    assert all(tf(img).shape == (3, 32, 32) for _ in range(300))


def test_reference_schedule_keeps_the_partial_batch_and_sets_each_group(tmp_path, tiny_folder):
    """``schedule=reference``: 24 images at batch 10 are 3 steps per epoch (2 with ``mae``); the logged lr is
    the schedule's, and after the run every layer-decay group holds ``group_lr(last step, its scale)``."""
    from colormae.eval.schedule import finetune_lr_schedule

    kw = dict(data=str(tiny_folder), batch_size=10, lr=1e-3, layer_decay=0.5, min_lr=1e-4, ema_decay=None)
    mae = finetune(job(tmp_path / "mae", **kw))
    ref = finetune(job(tmp_path / "ref", schedule="reference", **kw))
    assert (mae["steps"], ref["steps"]) == (4, 6)
    cfg = job(tmp_path / "x", schedule="reference", **kw)
    expected = finetune_lr_schedule(cfg, 24)
    logged = [json.loads(x) for x in (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in logged] == [expected[r["step"] - 1] for r in logged]
    groups = load_checkpoint(tmp_path / "ref")["optimizer"]["param_groups"]
    scales = sorted({g["lr_scale"] for g in groups})
    assert len(scales) > 2  # layer decay made several groups
    for group in groups:
        want = finetune_lr_schedule(cfg, 24, lr_scale=group["lr_scale"])[-1]
        assert abs(group["lr"] - want) <= 1e-12 * want
