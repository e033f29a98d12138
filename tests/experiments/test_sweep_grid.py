"""The sweep as a grid of settings: one row per arm x seed, paired differences with t intervals."""

import csv

import pytest
from scipy import stats

from colormae.config import load_config
from colormae.errors import UserError
from colormae.experiments.arms import build_arms
from colormae.experiments.compare import compare, paired_interval
from colormae.experiments.sweep import run_sweep
from colormae.jobs.sweep import TABLE1_GROUPS, SweepConfig

TINY = ["data=mnist5k", "budget=1", "model=mae_vit_micro_32px", "batch_size=16", "pattern_size=32",
        "probe_epochs=1", "probe_samples=48", "isolate=false", "progress=false"]


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_paired_interval_is_scipys_t_interval():
    diffs = [1.5, -0.25, 2.0, 0.75]
    mean, low, high = paired_interval(diffs)
    n = len(diffs)
    ref = stats.t.interval(0.95, n - 1, loc=stats.tmean(diffs), scale=stats.sem(diffs))
    assert mean == pytest.approx(sum(diffs) / n)
    assert (low, high) == pytest.approx(ref, rel=1e-12)
    assert paired_interval([3.0]) == (3.0, None, None)


def test_compare_pairs_by_seed_and_marks_intervals_that_exclude_zero():
    rows = [{"group": "g", "setting": s, "key": s, "masking": m, "seed": seed, "lp_top1": v}
            for s, m, vals in (("R", "random", (10, 12, 11)), ("A", "green", (13, 14, 14)),
                               ("B", "pink", (9, 14, 10)))
            for seed, v in enumerate(vals)]
    out = {c["setting"]: c for c in compare(rows, ["lp_top1"])}
    assert set(out) == {"A", "B"}  # the reference is not compared with itself
    assert out["A"]["diff"] == pytest.approx(8 / 3) and out["A"]["excludes_zero"]
    assert out["B"]["diff"] == pytest.approx(0.0) and not out["B"]["excludes_zero"]
    assert (out["B"]["low"], out["B"]["high"]) == pytest.approx(stats.t.interval(
        0.95, 2, loc=0.0, scale=stats.sem([-1, 2, -1])))


def test_grid_keys_fold_into_the_filter_and_groups_stay_presets():
    arms = build_arms(None, {"masking": ["random", "green", "pink"], "sigma1": [0.25, 0.5]})
    assert [a.setting for a in arms] == ["masking=random", "masking=green sigma1=0.25",
                                         "masking=green sigma1=0.5", "masking=pink"]
    assert [a.spec.masking for a in arms] == ["random", "filter:gauss:bandpass,s1=0.25,s2=2", "green",
                                              "filter:powerlaw:beta=1"]
    assert [a.spec.key for a in build_arms(None)] == [a.spec.key for a in build_arms(TABLE1_GROUPS)]
    with pytest.raises(UserError, match="neither a pretraining setting"):
        build_arms(None, {"sigma9": [1]})
    listed = build_arms([{"masking": "random"}, {"masking": "brown", "label": "Brown"}, "noise"])
    assert [(a.group, a.setting) for a in listed] == [("noise", "Uniform"), ("noise", "White"),
                                                      ("arms", "masking=random"), ("arms", "Brown")]


@pytest.mark.slow  # 8 tiny runs: ~25 s on 2 idle cores, ~100 s on the busy ones
def test_grid_sweep_over_two_settings_writes_rows_and_intervals(tmp_path):
    cfg = load_config(SweepConfig, overrides=[*TINY, f"out={tmp_path}", "seeds=2",
                                              "grid.masking=[random,green]", "grid.mask_ratio=[0.5,0.75]"])
    run_sweep(cfg)
    rows = _rows(tmp_path / "results.csv")
    arms = [("masking=random mask_ratio=0.5", "random-r50"), ("masking=random mask_ratio=0.75", "random-r75"),
            ("masking=green mask_ratio=0.5", "green-r50-n3072"), ("masking=green mask_ratio=0.75",
                                                                  "green-r75-n3072")]
    assert [(r["setting"], r["key"], r["seed"]) for r in rows] == [(s, k, str(seed)) for s, k in arms
                                                                   for seed in (0, 1)]
    ref = {r["seed"]: float(r["knn_top1"]) for r in rows if r["key"] == "random-r50"}
    for r in rows:  # each seed's difference to the reference's same seed
        assert float(r["d_knn_top1"]) == pytest.approx(float(r["knn_top1"]) - ref[r["seed"]])
    comps = _rows(tmp_path / "comparisons.csv")
    assert {(c["setting"], c["metric"]) for c in comps} == {(s, m) for s, _ in arms[1:]
                                                            for m in ("lp_top1", "knn_top1")}
    for c in comps:
        d = [float(r["d_" + c["metric"]]) for r in rows if r["setting"] == c["setting"]]
        mean, low, high = paired_interval(d)
        assert (float(c["diff"]), float(c["low"]), float(c["high"])) == pytest.approx((mean, low, high))
        assert c["method"] == "paired t" and c["reference"] == "masking=random mask_ratio=0.5"
    table = (tmp_path / "table.md").read_text()
    assert "Δ k-NN Top-1 vs masking=random mask_ratio=0.5 (95 % CI)" in table
    assert (tmp_path / "comparisons.png").stat().st_size > 0
