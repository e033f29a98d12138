"""Sweep bookkeeping without training: arms, de-duplication, CSV round trip, Table 1 layout, Fig. 1 size."""

from PIL import Image

from colormae.experiments.sweep import (
    CSV_FIELDS,
    GROUPS,
    build_arms,
    fig1,
    markdown_table,
    read_csv_results,
    table_rows,
    unique_specs,
    write_csv,
)


def _fake_results(arms):
    return {spec.key: {"lp_top1": 10.0 + i, "lp_top5": 50.0 + i, "peak_mem_mb": 100.0 + 10 * i,
                       "final_loss": 0.5, "steps": 3}
            for i, spec in enumerate(unique_specs(arms))}


def test_arms_cover_table1_and_share_duplicates():
    arms = build_arms(GROUPS)
    assert len(arms) == 5 + 4 + 2 + 5
    specs = unique_specs(arms)
    assert len(specs) == 13  # green/75/3072 three times, random/75 twice
    by_label = {(a.group, a.setting): a.spec for a in arms}
    assert by_label["ratio", "75"] == by_label["patterns", "3072"] == by_label["color", "Green"]
    assert by_label["noise", "Uniform"] == by_label["color", "Random"]
    assert by_label["noise", "White"].masking == "random-white"
    assert by_label["ratio", "20"].ratio == 0.2 and by_label["patterns", "64"].num_patterns == 64


def test_csv_round_trip_and_table(tmp_path):
    arms = build_arms(GROUPS)
    rows = table_rows(arms, _fake_results(arms))
    assert len(rows) == len(arms)
    path = write_csv(tmp_path / "results.csv", rows)
    back = read_csv_results(path)
    assert set(back) == {s.key for s in unique_specs(arms)}
    assert list(back.values())[0].keys() == set(CSV_FIELDS)
    assert table_rows(arms, back) == rows
    md = markdown_table(rows, budget=3, data="mnist5k", model="micro")
    for title in ("(a)", "(b)", "(c)", "colour"):
        assert title in md
    table_lines = [line for line in md.splitlines() if line.startswith("| ") and "Top-1" not in line]
    assert len(table_lines) == len(arms)
    assert "| 3072 | – | – |" in md  # no fine-tuning: dashes


def test_fig1_size(tmp_path):
    arms = build_arms(["ratio", "patterns"])
    out = fig1(table_rows(arms, _fake_results(arms)), tmp_path / "fig1.png")
    assert Image.open(out).size == (1000, 400)
