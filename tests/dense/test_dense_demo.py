"""The demo's dense steps: one function for both tasks, its settings read from the shipped recipes."""

import pytest

from colormae.config import load_config, recipe
from colormae.jobs.detect import DetectConfig
from colormae.jobs.segment import SegmentConfig
from colormae.transfer import demo


@pytest.mark.parametrize(("task", "config_cls"), [("segment", SegmentConfig), ("detect", DetectConfig)])
def test_settings_are_the_recipe_then_the_quick_size(task, config_cls) -> None:
    runtime = {"ckpt": "x", "out": "y"}
    shipped = load_config(config_cls, recipe(demo.TASKS[task].recipe), values=runtime)
    assert load_config(config_cls, values={**demo.dense_settings(task), **runtime}) == shipped
    quick = load_config(config_cls, values={**demo.dense_settings(task, quick=True), **runtime})
    assert quick.max_steps < shipped.max_steps and quick.data == shipped.data == "scenes"


@pytest.mark.parametrize(("task", "result", "numbers"), [
    ("segment", {"mIoU": 17.0, "mAcc": 30.0}, {"": 17.0, "_mAcc": 30.0}),
    ("detect", {"box": {"AP": 2.0, "AP50": 6.0}}, {"": 2.0, "_AP50": 6.0}),
    ("detect", {"box": {"AP": 2.0, "AP50": 6.0}, "mask": {"AP": 1.0}},
     {"": 2.0, "_AP50": 6.0, "_mask_AP": 1.0}),
])
def test_both_arms_numbers_come_back_under_their_keys(tmp_path, monkeypatch, task, result, numbers) -> None:
    from colormae.transfer import compare

    seen = {}

    def fake_compare(job, config_cls, settings, *, pretrain_dir, out, name, parallel):
        seen.update(job=job.__name__, name=name, steps=settings["max_steps"], lr=settings["lr"])
        return {key: {**result, "run": str(out / f"{name}{suffix}")} for key, suffix in compare.ARMS}

    monkeypatch.setattr(compare, "compare", fake_compare)
    res = demo.demo_dense(task, "runs/x", tmp_path, quick=True, lr=0.5)
    assert seen == {"job": task, "name": task, "steps": demo.TASKS[task].quick["max_steps"], "lr": 0.5}
    assert res["metric"] == demo.TASKS[task].metric and res["data"] == "scenes"
    for key, suffix in compare.ARMS:
        assert {k[len(key):]: v for k, v in res.items() if k.startswith(key) and not k.endswith("_run")} \
            == numbers
        assert res[f"{key}_run"] == str(tmp_path / f"{task}{suffix}")
