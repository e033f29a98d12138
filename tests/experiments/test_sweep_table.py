"""Sweep bookkeeping without training: arms, de-duplication, CSV, seeds aggregation, Table 1, Fig. 1."""

import csv

import numpy as np
from PIL import Image

from colormae.experiments.sweep import (
    CSV_FIELDS,
    aggregate,
    build_arms,
    markdown_table,
    table_rows,
    unique_specs,
    write_csv,
)
from colormae.jobs.sweep import TABLE1_GROUPS
from colormae.viz.sweep import fig1


def _fake_results(arms, seeds=(0,)):
    return {(spec.key, seed): {"lp_top1": 10.0 + i + seed, "lp_top5": 50.0 + i, "peak_mem_mb": 100.0 + 10 * i,
                               "final_loss": 0.5, "steps": 3}
            for i, spec in enumerate(unique_specs(arms)) for seed in seeds}


def test_arms_cover_table1_and_share_duplicates():
    arms = build_arms(TABLE1_GROUPS)
    assert len(arms) == 5 + 4 + 2 + 5
    specs = unique_specs(arms)
    assert len(specs) == 13  # green/75/3072 three times, random/75 twice
    by_label = {(a.group, a.setting): a.spec for a in arms}
    assert by_label["ratio", "75"] == by_label["patterns", "3072"] == by_label["color", "Green"]
    assert by_label["noise", "Uniform"] == by_label["color", "Random"]
    assert by_label["noise", "White"].masking == "random-white"
    assert by_label["ratio", "20"].ratio == 0.2 and by_label["patterns", "64"].num_patterns == 64


def test_csv_and_table(tmp_path):
    arms = build_arms(TABLE1_GROUPS)
    rows = table_rows(arms, _fake_results(arms))
    assert len(rows) == len(arms)
    path = write_csv(tmp_path / "results.csv", rows)
    with open(path, newline="") as fh:
        back = list(csv.DictReader(fh))
    assert [r["key"] for r in back] == [r["key"] for r in rows] and list(back[0]) == list(CSV_FIELDS)
    md = markdown_table(rows, budget=3, data="mnist5k", model="micro")
    for title in ("(a)", "(b)", "(c)", "colour"):
        assert title in md
    table_lines = [line for line in md.splitlines() if line.startswith("| ") and "Top-1" not in line]
    assert len(table_lines) == len(arms)
    assert "| 3072 | – | – |" in md  # no fine-tuning: dashes
    assert "±" not in md  # one seed: no spread


def test_seeds_aggregate_to_mean_and_std():
    arms = build_arms(["noise"])
    rows = table_rows(arms, _fake_results(arms, seeds=(0, 1, 2)))
    assert len(rows) == 6
    agg = aggregate(rows)
    uniform = next(a for a in agg if a["setting"] == "Uniform")
    assert uniform["n"] == 3 and uniform["lp_top1"] == 11.0 and uniform["lp_top1_std"] == 1.0
    assert "| Uniform | – | – | 11.00 ± 1.00 | 50.00 ± 0.00 |" in markdown_table(
        rows, budget=3, data="d", model="m")


def test_fig1_draws_every_arm_with_error_bars(tmp_path):
    arms = build_arms(["ratio", "patterns"])
    agg = aggregate(table_rows(arms, _fake_results(arms, seeds=(0, 2))))
    out = fig1(agg, tmp_path / "fig1.png")
    assert Image.open(out).size == (1000, 400)
    # content: the plotted points are the arms' mean Top-1, and error bars are drawn
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from colormae.viz import sweep as viz_sweep

    captured = {}
    real_subplots = plt.subplots

    def spy(*a, **k):
        fig, axes = real_subplots(*a, **k)
        captured["axes"] = axes
        return fig, axes

    plt.subplots = spy
    try:
        viz_sweep.fig1(agg, tmp_path / "again.png")
    finally:
        plt.subplots = real_subplots
    ratio_ax = captured["axes"][0]
    ys = ratio_ax.lines[0].get_ydata()
    expected = [a["lp_top1"] for a in agg if a["group"] == "ratio"]
    assert np.allclose(ys, expected) and len(ratio_ax.containers) == 1  # one ErrorbarContainer
    image = np.asarray(Image.open(out).convert("L"), dtype=float)
    assert image.std() > 5  # not a blank canvas


def test_transfer_group_compares_random_init_mae_and_colormae():
    arms = build_arms(["transfer"])
    assert [(a.setting, a.spec.key) for a in arms] == [
        ("Random init", "init"), ("MAE", "random-r75"), ("ColorMAE-G", "green-r75-n3072")]
    rows = table_rows(arms, _fake_results(arms, seeds=(0, 1, 2)))
    md = markdown_table(rows, budget=3, data="natural", model="m")
    assert "| Encoder | LP Top-1 | LP balanced | k-NN Top-1 | k-NN balanced | FT Top-1 | FT balanced |" in md
    assert "| Random init | 11.00 ± 1.00 |" in md
