"""Fine-tuning on the shared engine: runs, reports Top-1 / Top-5 every epoch, resumes bit-exactly."""

import json

import torch

from colormae.eval.classifier import load_classifier
from colormae.eval.finetune import finetune
from colormae.train.checkpoint import load_checkpoint

ARGS = dict(epochs=2, batch_size=8, num_workers=0, progress=False, ema_decay=0.9, seed=3, warmup_epochs=1)


def test_finetune_runs_evaluates_and_resumes_exactly(tmp_path, tiny_folder):
    data = str(tiny_folder)
    full = finetune(tmp_path / "full", "random:mae_vit_micro_32px", data=data, **ARGS)
    # 24 train images / batch 8 = 3 steps per epoch; a validation line after each of the 2 epochs
    assert full["steps"] == 6
    lines = [json.loads(x) for x in (tmp_path / "full" / "eval.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines] == [1, 2]
    assert all(0 <= x["top1"] <= 100 and x["top5"] == 100.0 and "ema_top1" in x for x in lines)
    assert json.loads((tmp_path / "full" / "finetune.json").read_text())["top1"] == lines[-1]["top1"]

    finetune(tmp_path / "cut", "random:mae_vit_micro_32px", data=data, stop_at_step=4, **ARGS)
    finetune(tmp_path / "cut", "random:mae_vit_micro_32px", data=data, resume=True, **ARGS)
    a, b = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "cut")
    assert a["kind"] == "finetune" and a["model_config"]["num_classes"] == 3 and a["step"] == b["step"] == 6
    for key in ("model", "ema"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), f"{key}.{name}"
    clf = load_classifier(tmp_path / "full")
    assert clf(torch.randn(2, 3, 32, 32)).shape == (2, 3)
