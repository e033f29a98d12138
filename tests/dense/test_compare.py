"""The demo's dense comparison runs the same job and recipe from the pretrained encoder and from a random
one of the same shape, into two run folders."""

from pathlib import Path

import pytest

from colormae.errors import UserError
from colormae.jobs.segment import SegmentConfig
from colormae.transfer import compare as cmp


def _fake_job(cfg: SegmentConfig) -> dict:
    return {"ckpt": cfg.ckpt, "steps": cfg.max_steps, "resume": cfg.resume}


def test_both_arms_share_the_recipe_and_differ_only_in_the_encoder(tmp_path: Path, monkeypatch) -> None:
    import colormae.loading

    monkeypatch.setattr(colormae.loading, "load", lambda spec: f"loaded {spec}")
    presets = {"loaded runs/x": "mae_vit_micro_32px"}
    monkeypatch.setattr(colormae.loading, "preset_of", lambda loaded: presets[loaded])
    runs = cmp.compare(_fake_job, SegmentConfig, {"max_steps": 7, "lr": 0.01}, pretrain_dir="runs/x",
                       out=tmp_path, name="segment", parallel=False)
    assert list(runs) == ["pretrained", "random_init"]
    assert runs["pretrained"]["ckpt"] == "runs/x"
    assert runs["random_init"]["ckpt"] == "random:mae_vit_micro_32px"  # the pretrained encoder's shape
    assert [r["run"] for r in runs.values()] == [str(tmp_path / "segment"), str(tmp_path / "segment-random")]
    assert all(r["steps"] == 7 and r["resume"] == "auto" for r in runs.values())


def test_side_by_side_arms_run_in_fresh_interpreters(tmp_path, monkeypatch) -> None:
    """Each arm is its own ``python -m colormae.train.arms`` process (no ``__main__`` guard needed in the
    caller); results come back, and a failing arm is one error line naming it."""
    import dataclasses
    import operator

    monkeypatch.setattr(cmp, "arm_threads", lambda device: 1)
    settings, micro = {"max_steps": 7, "device": "cpu"}, "random:mae_vit_micro_32px"
    runs = cmp.compare(dataclasses.asdict, SegmentConfig, settings, pretrain_dir=micro, out=tmp_path,
                       name="seg")
    assert {key: (r["ckpt"], r["max_steps"], r["run"]) for key, r in runs.items()} == {
        "pretrained": (micro, 7, str(tmp_path / "seg")),
        "random_init": (micro, 7, str(tmp_path / "seg-random"))}
    with pytest.raises(UserError, match=r"the pretrained \(exit code 1\) and random_init \(exit code 1\) "
                                            r"run failed"):
        cmp.compare(operator.itemgetter("x"), SegmentConfig, settings, pretrain_dir=micro, out=tmp_path,
                    name="bad")
