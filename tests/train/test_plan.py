"""``colormae plan``: the shape of its output, that it writes nothing to --out, and its batch search."""

from __future__ import annotations

import json

import pytest

from colormae.cli import main
from colormae.pretrain.plan import _search, keep_effective

TINY = ["model=mae_vit_micro_32px", "data=mnist5k", "batch_size=8", "num_workers=0", "bank_size=16",
        "pattern_size=16", "epochs=3"]
KEYS = {"model", "data", "device", "amp", "batch_size", "accum_steps", "effective_batch", "steps_timed",
        "step_s", "data_s", "compute_s", "images_per_s", "peak_mem_mb", "peak_mem_kind", "steps_per_epoch",
        "total_steps", "setup_s", "checkpoint_s", "checkpoints", "estimated_wall_s", "largest_batch",
        "largest_batch_rule", "keeps_effective"}


def test_plan_json_has_every_key_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["plan", "--out", str(out), *TINY, "accum_steps=2", "ckpt_every=100", "--json",
                 "--steps", "3", "--warmup", "1"]) == 0
    plan = json.loads(capsys.readouterr().out)  # stdout is the JSON alone (the trial's lines go to stderr)
    assert set(plan) == KEYS
    assert not out.exists()
    assert plan["steps_timed"] == 3 and plan["effective_batch"] == 16 and plan["device"] == "cpu"
    assert plan["steps_per_epoch"] == 4000 // 16 and plan["total_steps"] == 3 * 250
    assert plan["checkpoints"] == 750 // 100 + 1
    assert plan["step_s"] == pytest.approx(plan["data_s"] + plan["compute_s"], abs=1e-3)
    assert plan["images_per_s"] == pytest.approx(16 / plan["step_s"], rel=1e-2)
    wall = plan["setup_s"] + plan["total_steps"] * plan["step_s"] + plan["checkpoints"] * plan["checkpoint_s"]
    assert plan["estimated_wall_s"] == pytest.approx(wall, rel=1e-2)
    assert plan["peak_mem_kind"] == "cpu_rss" and plan["peak_mem_mb"] > 0
    if plan["largest_batch"] is not None:
        keep = plan["keeps_effective"]
        assert keep["batch_size"] * keep["accum_steps"] == 16 and keep["batch_size"] <= plan["largest_batch"]


def test_plan_text_and_user_mistakes(tmp_path, capsys):
    assert main(["plan", *TINY, "--steps", "1", "--warmup", "0", "--no-search"]) == 0
    text = capsys.readouterr().out
    assert "estimated wall time" in text and "images/s" in text and "largest batch" not in text
    assert main(["plan", *TINY, "masking=nope", "--steps", "1"]) == 2
    assert "error:" in capsys.readouterr().err


def test_batch_search_finds_the_exact_limit_with_few_probes():
    for limit in (1, 7, 64, 100, 1000, 4095):
        probes = []

        def fits(b, limit=limit, probes=probes):
            probes.append(b)
            return b <= limit

        found = _search(fits, 16, 4096)
        assert limit - limit // 64 <= found <= limit  # within 1/64 below the true limit, never above
        assert len(probes) <= 16
    assert _search(lambda b: b <= 100, 16, 4096) == 100  # small limits exactly
    assert _search(lambda b: False, 16, 4096) is None
    assert _search(lambda b: True, 16, 4096) == 4096


def test_keep_effective_uses_the_fewest_accumulation_steps():
    assert keep_effective(4096, 4096) == {"batch_size": 4096, "accum_steps": 1}
    assert keep_effective(4096, 1000) == {"batch_size": 512, "accum_steps": 8}
    assert keep_effective(96, 40) == {"batch_size": 32, "accum_steps": 3}
    assert keep_effective(16, None) is None
