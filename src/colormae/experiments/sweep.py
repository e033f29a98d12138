"""``colormae sweep``: the supplement's ablations (Table 1, Fig. 1) as arms that all train the same way.

An arm is a set of pretraining settings (:class:`~colormae.experiments.arms.RunSpec`: masking, ratio,
bank size, any other setting) in a group of the table (:class:`~colormae.experiments.arms.Arm`): a named
group of the supplement, a listed arm or a point of a grid (:mod:`colormae.experiments.arms`); arms that
are the same run share it. Each run pretrains for a fixed step budget, then is linear-probed, k-NN-probed
and optionally fine-tuned, with every stage recorded in its ``arm.json`` so a rerun skips what finished
and resumes what was interrupted. The per-seed rows (with each seed's difference to the reference arm) go
to ``results.csv``, the paired differences with their intervals (:mod:`colormae.experiments.compare`) to
``comparisons.csv`` and ``comparisons.png``, the mean and spread over seeds beside them to ``table.md``,
and ``fig1.png``. On a CPU each pretraining runs as an arm of its own
(:func:`colormae.train.arms.run_arms`), so the peak memory in the table is that arm's alone.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from colormae.errors import UserError
from colormae.experiments.arms import DEFAULT_PATTERNS, NO_PRETRAINING, Arm, RunSpec, build_arms, unique_specs
from colormae.experiments.compare import METHOD, compare, format_difference, per_seed_differences
from colormae.files import atomic_write_text
from colormae.jobs.sweep import GROUPS, SweepConfig

RESULTS_CSV = "results.csv"
#: The completion record of one (spec, seed) run, in its run directory.
RECORD = "arm.json"
#: Metrics whose paired difference to the reference arm each table and ``comparisons.csv`` give.
COMPARED = ("lp_top1", "knn_top1", "ft_top1")
COMPARISONS_CSV = "comparisons.csv"
CSV_FIELDS = ("group", "setting", "key", "seed", "masking", "ratio", "num_patterns", "settings", "steps",
              "final_loss", "lp_top1", "lp_top5", "lp_balanced", "knn_top1", "knn_balanced", "ft_top1",
              "ft_top5", "ft_balanced", "peak_mem_mb", "pretrain_s", *(f"d_{m}" for m in COMPARED))
COMPARISON_FIELDS = ("group", "setting", "reference", "metric", "n", "diff", "low", "high", "excludes_zero",
                     "method", "level")
#: Numbers averaged over seeds in the table and the figure.
METRICS = ("final_loss", "lp_top1", "lp_top5", "lp_balanced", "knn_top1", "knn_balanced", "ft_top1",
           "ft_top5", "ft_balanced", "peak_mem_mb")


# ------------------------------------------------------------------------------------------ one run
def run_dir_of(out: Path, spec: RunSpec, seed: int) -> Path:
    """The run directory of ``spec`` trained with ``seed``."""
    return out / "arms" / f"{spec.key}-s{seed}"


def read_record(run_dir: Path) -> dict[str, Any]:
    """A run's completion record (``{}`` before its first stage finished)."""
    path = run_dir / RECORD
    return json.loads(path.read_text()) if path.exists() else {}


def _write_record(run_dir: Path, record: dict[str, Any]) -> None:
    atomic_write_text(run_dir / RECORD, json.dumps(record, indent=2) + "\n")


def pretrain_config(spec: RunSpec, run_dir: Path, cfg: SweepConfig, seed: int, device: str):
    """The pretraining job of one arm: exactly ``budget`` steps, 10 % warm-up (as 40 of MAE's 400 epochs),
    the arm's settings (:attr:`RunSpec.settings`) checked as any pretraining setting is."""
    from colormae.config import load_config
    from colormae.jobs.pretrain import PretrainConfig

    values = dict(
        out=str(run_dir), resume="auto", model=cfg.model, data=cfg.data, num_workers=0,
        bank_size=DEFAULT_PATTERNS, pattern_size=cfg.pattern_size, epochs=None, max_steps=cfg.budget,
        warmup_steps=cfg.budget // 10, batch_size=cfg.batch_size, lr=cfg.lr, seed=seed,
        ckpt_every=max(1, cfg.budget // 4), keep_last=1, log_every=max(1, cfg.budget // 20), device=device,
        threads=cfg.threads, progress=cfg.verbose)
    return load_config(PretrainConfig, values={**values, **spec.settings})


def _pretrain(job: Any) -> None:
    """``pretrain(job)``, returning nothing (so an arm of its own has nothing to send back)."""
    from colormae.pretrain.run import pretrain

    pretrain(job)


def _run_pretrain(job: Any, *, isolate: bool) -> None:
    """``pretrain(job)`` in this process (peak GPU memory counted from here), or (``isolate``) as an arm of
    its own (:func:`colormae.train.arms.run_arms`: a fresh interpreter, so its peak memory is its own)."""
    if not isolate:
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        _pretrain(job)
        return
    from functools import partial

    from colormae.train.arms import run_arms

    run_arms({str(job.out): partial(_pretrain, job)}, torch.get_num_threads(), what="pretraining",
             again="rerun the sweep to resume it")


def _metrics_summary(run_dir: Path) -> tuple[float | None, float | None]:
    """``(final loss, peak memory in MB)`` from a run's ``metrics.jsonl``."""
    from colormae.train.metrics import read_metrics

    records = [r for r in read_metrics(run_dir) if "loss" in r]
    if not records:
        return None, None
    mems = [float(r["peak_mem_mb"]) for r in records if r.get("peak_mem_mb") is not None]
    return float(records[-1]["loss"]), (max(mems) if mems else None)


def run_arm(spec: RunSpec, seed: int, run_dir: Path, cfg: SweepConfig, *, device: str,
            isolate: bool) -> dict[str, Any]:
    """Pretrain, linear-probe and optionally fine-tune one spec with one seed; returns its record.

    Each stage is recorded in ``run_dir/arm.json`` when it finishes, so a rerun skips it; an interrupted
    pretraining or fine-tuning resumes from its newest checkpoint.
    """
    record = read_record(run_dir)
    pretrained = spec.masking != NO_PRETRAINING
    ckpt = str(run_dir) if pretrained else f"random:{cfg.model}"
    if "pretrain" not in record:
        start = time.perf_counter()
        if pretrained:
            _run_pretrain(pretrain_config(spec, run_dir, cfg, seed, device), isolate=isolate)
        loss, mem = _metrics_summary(run_dir) if pretrained else (None, None)
        record["pretrain"] = {"steps": cfg.budget if pretrained else 0, "final_loss": loss,
                              "peak_mem_mb": mem, "pretrain_s": time.perf_counter() - start}
        _write_record(run_dir, record)
    if "linprobe" not in record:
        from colormae.eval.probes import knn, linprobe
        from colormae.jobs.probes import KnnConfig, LinprobeConfig

        common = dict(ckpt=ckpt, data=cfg.data, limit=cfg.probe_samples, seed=seed, out=str(run_dir),
                      progress=cfg.verbose)
        res = linprobe(LinprobeConfig(epochs=cfg.probe_epochs, warmup_epochs=max(1, cfg.probe_epochs // 10),
                                      **common), device=device)
        near = knn(KnnConfig(**common), device=device)
        record["linprobe"] = {"lp_top1": res["top1"], "lp_top5": res["top5"],
                              "lp_balanced": res.get("balanced_acc"), "knn_top1": near["top1"],
                              "knn_balanced": near.get("balanced_acc")}
        _write_record(run_dir, record)
    if cfg.finetune and "finetune" not in record:
        from colormae.eval.finetune import finetune
        from colormae.jobs.finetune import FinetuneConfig

        res = finetune(FinetuneConfig(ckpt=ckpt, out=str(run_dir / "finetune"), resume="auto", data=cfg.data,
                                      epochs=cfg.finetune_epochs, seed=seed, device=device,
                                      threads=cfg.threads, progress=cfg.verbose))
        record["finetune"] = {"ft_top1": res["top1"], "ft_top5": res["top5"],
                              "ft_balanced": res.get("balanced_acc")}
        _write_record(run_dir, record)
    return record


def flat(record: dict[str, Any]) -> dict[str, Any]:
    """The numbers of a record's stages as one flat dict."""
    return {k: v for stage in ("pretrain", "linprobe", "finetune") for k, v in record.get(stage, {}).items()}


# ---------------------------------------------------------------------------------------------- files
def table_rows(arms: Sequence[Arm], results: dict[tuple[str, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """One CSV row per arm and seed that has a result (``results`` by ``(spec key, seed)``)."""
    rows = []
    for arm in arms:
        for (key, seed), res in sorted(results.items(), key=lambda kv: kv[0][1]):
            if key != arm.spec.key:
                continue
            row = {f: res.get(f) for f in CSV_FIELDS}
            row.update(group=arm.group, setting=arm.setting, key=key, seed=seed, masking=arm.spec.masking,
                       ratio=arm.spec.ratio, num_patterns=arm.spec.num_patterns,
                       settings=json.dumps(dict(arm.spec.extra)) if arm.spec.extra else None)
            rows.append(row)
    return rows


def with_differences(rows: Sequence[dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    """The rows with ``d_<metric>``: each seed's difference to the reference arm's same seed."""
    return [{**r, **d} for r, d in zip(rows, per_seed_differences(rows, COMPARED, reference), strict=True)]


def write_csv(path: Path, rows: Sequence[dict[str, Any]], fields: Sequence[str] = CSV_FIELDS) -> Path:
    """Write the rows (atomically: :func:`colormae.files.atomic_write_text`)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(fields))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in fields})
    return atomic_write_text(path, text.getvalue())


def aggregate(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per arm: each of :data:`METRICS` as its mean over seeds, plus ``<metric>_std`` and ``n``."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        grouped.setdefault((r["group"], r["setting"]), []).append(r)
    out = []
    for (group, setting), members in grouped.items():
        agg: dict[str, Any] = {"group": group, "setting": setting, "n": len(members)}
        for m in METRICS:
            values = [float(r[m]) for r in members if r.get(m) not in (None, "")]
            agg[m] = statistics.fmean(values) if values else None
            agg[m + "_std"] = statistics.stdev(values) if len(values) > 1 else None
        out.append(agg)
    return out


def _fmt(value: Any, digits: int = 2, std: Any = None) -> str:
    if value in (None, ""):
        return "–"
    text = f"{float(value):.{digits}f}"
    return text if std in (None, "") else f"{text} ± {float(std):.{digits}f}"


_TITLES = {
    "transfer": ("What pretraining buys: random init vs MAE vs ColorMAE-G", "Encoder"),
    "ratio": ("(a) ColorMAE-G with different masking ratios", "Masking ratio (%)"),
    "patterns": ("(b) ColorMAE-G with different numbers of noise patterns", "Number of patterns"),
    "noise": ("(c) MAE with different noises for mask sampling", "Random patterns"),
    "color": ("Masks of different colours (ratio 75 %)", "Mask"),
    "arms": ("Arms", "Arm"),
    "grid": ("Grid of settings", "Arm"),
}
#: Table order of the groups: the presets, then the listed arms, then the grid.
TABLE_GROUPS = (*GROUPS, "arms", "grid")


#: Columns of the Table 1 groups, of the transfer group and of listed / grid arms (row key -> header).
TABLE1_COLUMNS = {"ft_top1": "FT Top-1", "ft_top5": "FT Top-5", "lp_top1": "LP Top-1", "lp_top5": "LP Top-5"}
TRANSFER_COLUMNS = {"lp_top1": "LP Top-1", "lp_balanced": "LP balanced", "knn_top1": "k-NN Top-1",
                    "knn_balanced": "k-NN balanced", "ft_top1": "FT Top-1", "ft_balanced": "FT balanced"}
GRID_COLUMNS = {"lp_top1": "LP Top-1", "knn_top1": "k-NN Top-1", "ft_top1": "FT Top-1"}


def _group_table(group: str, grow: Sequence[dict[str, Any]], diffs: dict[tuple, dict[str, Any]]) -> list[str]:
    """The markdown lines of one group: mean ± std per column, then the paired difference to the
    reference arm of each compared column that has one."""
    title, first = _TITLES[group]
    with_mem = group in ("ratio", "patterns")
    columns = {"transfer": TRANSFER_COLUMNS, "arms": GRID_COLUMNS, "grid": GRID_COLUMNS}.get(group,
                                                                                         TABLE1_COLUMNS)
    if group in ("arms", "grid"):
        columns = {k: v for k, v in columns.items() if any(r.get(k) is not None for r in grow)}
    compared = [k for k in COMPARED if k in columns and any(key[0] == group and key[2] == k for key in diffs)]
    reference = next((d["reference"] for key, d in diffs.items() if key[0] == group), None)
    heads = [*columns.values(), *(f"Δ {columns[k]} vs {reference} (95 % CI)" for k in compared)]
    head = f"| {first} | " + " | ".join(heads) + " |" + (" Memory (MB) |" if with_mem else "")
    lines = [f"## {title}", "", head, "|" + "---|" * (1 + len(heads) + with_mem)]
    for r in grow:
        cells = [r["setting"], *(_fmt(r[k], std=r[k + "_std"]) for k in columns)]
        cells += ["reference" if r["setting"] == reference
                  else format_difference(diffs.get((group, r["setting"], k))) for k in compared]
        if with_mem:
            cells.append(_fmt(r["peak_mem_mb"], 0))
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def markdown_table(rows: Sequence[dict[str, Any]], *, budget: int, data: str, model: str,
                   comparisons: Sequence[dict[str, Any]] = ()) -> str:
    """Table 1 of the supplement: sub-tables (a) ratio, (b) patterns, (c) noise, then colours, transfer,
    listed arms and the grid.

    ``rows`` are per-seed rows; cells give the mean over seeds, ``± std`` when there are several;
    ``comparisons`` (:func:`colormae.experiments.compare.compare`) add the paired differences.
    """
    agg = aggregate(rows)
    seeds = max((a["n"] for a in agg), default=1)
    over = f", mean ± std over {seeds} seeds" if seeds > 1 else ""
    lines = [f"# Ablations ({model}, {budget} pretraining steps on {data}{over})", "",
             "Top-1 / Top-5 in percent; memory is the pretraining peak (MB). Duplicate settings "
             "(ratio 75 = 3072 patterns = Green; Uniform = Random) are one run.", ""]
    if comparisons:
        lines += [f"Δ: mean paired-by-seed difference to the reference arm with its 95 % {METHOD} interval; "
                  "\\* marks an interval that excludes zero.", ""]
    diffs = {(c["group"], c["setting"], c["metric"]): c for c in comparisons}
    for group in TABLE_GROUPS:
        grow = [r for r in agg if r["group"] == group]
        if grow:
            lines += _group_table(group, grow, diffs)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- sweep
#: Settings that change an arm's numbers: resuming with other values would mix incomparable rows.
_RESULT_SETTINGS = ("data", "budget", "model", "batch_size", "lr", "pattern_size", "probe_epochs",
                    "probe_samples", "finetune_epochs")


def _check_same_settings(path: Path, cfg: SweepConfig) -> None:
    """Record the sweep's settings in ``path``, or refuse to resume a sweep made with other ones."""
    now = {k: getattr(cfg, k) for k in _RESULT_SETTINGS}
    if path.exists():
        before = json.loads(path.read_text())
        changed = [k for k in _RESULT_SETTINGS if k in before and before[k] != now[k]]
        if changed:
            k = changed[0]
            raise UserError(f"{path.parent} holds a sweep with {k}={before[k]!r}, not {now[k]!r}; "
                            "use another --out (or the same settings to resume)")
    atomic_write_text(path, json.dumps(now, indent=2) + "\n")


def run_sweep(cfg: SweepConfig, *, echo: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Run (or resume) the ablation sweep of ``cfg`` in ``cfg.out``; returns the per-seed table rows.

    ``echo`` gets one line per finished run (default: above the progress bar).
    """
    from colormae.data import build_dataset
    from colormae.progress import progress as progress_bar
    from colormae.progress import write
    from colormae.viz.sweep import fig1

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
    isolate = torch.device(device).type == "cpu" if cfg.isolate is None else cfg.isolate
    n_train = len(build_dataset(cfg.data, split="train"))
    if n_train < cfg.batch_size:
        raise UserError(f"{cfg.data}: {n_train} training images are fewer than a batch of {cfg.batch_size}")
    arms = build_arms(cfg.arms, cfg.grid)
    specs = unique_specs(arms)
    _check_same_settings(out / "sweep.json", cfg)
    echo = echo or write
    runs = [(spec, seed) for seed in range(cfg.seed, cfg.seed + cfg.seeds) for spec in specs]
    results: dict[tuple[str, int], dict[str, Any]] = {}
    bar = progress_bar(runs, desc="sweep", unit="run", enabled=cfg.progress)
    for i, (spec, seed) in enumerate(bar, start=1):
        labels = ", ".join(f"{a.group}={a.setting}" for a in arms if a.spec == spec)
        run_dir = run_dir_of(out, spec, seed)
        before = read_record(run_dir)
        t0 = time.perf_counter()
        res = {**flat(run_arm(spec, seed, run_dir, cfg, device=device, isolate=isolate))}
        results[(spec.key, seed)] = res
        write_csv(out / RESULTS_CSV, with_differences(table_rows(arms, results), cfg.reference))
        finished = "finetune" in before or ("linprobe" in before and not cfg.finetune)
        echo(f"[{i}/{len(runs)}] {spec.key} seed {seed} ({labels}): "
             + ("done before, reused; " if finished else "")
             + f"loss {_fmt(res.get('final_loss'), 4)}, linear probe Top-1 {_fmt(res.get('lp_top1'))} "
             f"Top-5 {_fmt(res.get('lp_top5'))}"
             + (f", fine-tune Top-1 {_fmt(res.get('ft_top1'))}" if cfg.finetune else "")
             + f", peak mem {_fmt(res.get('peak_mem_mb'), 0)} MB, {time.perf_counter() - t0:.1f} s")
    rows = table_rows(arms, results)
    comparisons = compare(rows, COMPARED, cfg.reference)
    write_csv(out / RESULTS_CSV, with_differences(rows, cfg.reference))
    write_csv(out / COMPARISONS_CSV, comparisons, COMPARISON_FIELDS)
    table = markdown_table(rows, budget=cfg.budget, data=cfg.data, model=cfg.model, comparisons=comparisons)
    atomic_write_text(out / "table.md", table + "\n")
    if any(r["group"] in ("ratio", "patterns") for r in rows):
        fig1(aggregate(rows), out / "fig1.png")
    if any(c["low"] is not None for c in comparisons):
        from colormae.viz.compare import comparison_figure

        comparison_figure(comparisons, out / "comparisons.png")
    return rows
