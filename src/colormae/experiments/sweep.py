"""The supplement's ablations as one resumable sweep (ColorMAE supplementary, Table 1 and Fig. 1).

Arms (each pretrains for ``budget`` steps, then linear-probes the encoder; fine-tuning optional):

- ``ratio`` (Table 1a): ColorMAE-G with masking ratios 20 / 50 / 75 / 85 / 90 %;
- ``patterns`` (Table 1b): ColorMAE-G with banks of 64 / 512 / 3072 / 4096 green patterns;
- ``noise`` (Table 1c): MAE random masking drawn from uniform vs white noise;
- ``color``: random / blue / green / purple / red masks (the main paper's comparison).

An arm is a table row; what it trains is its :class:`RunSpec`. Arms with the same spec (ratio 75 ==
3072 patterns == colour green; uniform noise == colour random) train once and share the result.
Each spec gets ``OUT/arms/<key>/`` (a run directory); ``result.json`` there marks it finished, and a
spec whose row is already in ``results.csv`` is not rerun either. An interrupted pretraining resumes
from its newest checkpoint. Results go to ``results.csv``, ``table.md`` (laid out as Table 1) and
``fig1.png`` (Top-1 vs ratio and vs number of patterns, marker area = peak memory, as Fig. 1).

Peak memory is the pretraining job's ``peak_mem_mb``: CUDA max allocated (reset before each arm) on a
GPU; on a CPU it is the process's max resident set size, which only grows within a process, so by
default each CPU arm pretrains in a fresh child process (``isolate``) to make the numbers comparable.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from colormae.errors import UserError

#: Sweep groups, in table order.
GROUPS = ("ratio", "patterns", "noise", "color")
#: Masking ratios of Table 1a (percent).
RATIOS = (20, 50, 75, 85, 90)
#: Bank sizes of Table 1b; 3072 is the official bank (paper, Sec. 4).
NUM_PATTERNS = (64, 512, 3072, 4096)
DEFAULT_PATTERNS = 3072
#: Row label -> masking name, Table 1c and the colour comparison.
NOISES = {"Uniform": "random", "White": "random-white"}
COLORS = {"Random": "random", "Blue": "blue", "Green": "green", "Purple": "purple", "Red": "red"}

RESULTS_CSV = "results.csv"
DONE_FILE = "result.json"
CSV_FIELDS = ("group", "setting", "key", "masking", "ratio", "num_patterns", "steps", "final_loss",
              "lp_top1", "lp_top5", "ft_top1", "ft_top5", "peak_mem_mb", "pretrain_s")


@dataclass(frozen=True)
class RunSpec:
    """What an arm trains: a masking, its ratio and (colour masks only) the bank size."""

    masking: str
    ratio: float
    num_patterns: int | None = None

    @property
    def key(self) -> str:
        """A file-name-safe id, equal for equal specs (e.g. ``green-r75-n3072``)."""
        key = f"{self.masking}-r{round(self.ratio * 100)}"
        return key if self.num_patterns is None else f"{key}-n{self.num_patterns}"


@dataclass(frozen=True)
class Arm:
    """One row of the table: its group, its label in that group, and the run behind it."""

    group: str
    setting: str
    spec: RunSpec


def _color_spec(masking: str, ratio: float = 0.75, num_patterns: int = DEFAULT_PATTERNS) -> RunSpec:
    is_color = masking not in ("random", "random-white", "block")
    return RunSpec(masking, ratio, num_patterns if is_color else None)


def build_arms(groups: Iterable[str] = GROUPS) -> list[Arm]:
    """The arms of the chosen groups, in table order (duplicates across groups share a :class:`RunSpec`)."""
    groups = list(groups)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise UserError(f"unknown sweep arm group {unknown[0]!r}; choose from {', '.join(GROUPS)}")
    arms: list[Arm] = []
    for group in GROUPS:
        if group not in groups:
            continue
        if group == "ratio":
            arms += [Arm(group, str(r), _color_spec("green", r / 100)) for r in RATIOS]
        elif group == "patterns":
            arms += [Arm(group, str(n), _color_spec("green", 0.75, n)) for n in NUM_PATTERNS]
        elif group == "noise":
            arms += [Arm(group, label, _color_spec(name)) for label, name in NOISES.items()]
        else:
            arms += [Arm(group, label, _color_spec(name)) for label, name in COLORS.items()]
    return arms


def unique_specs(arms: Sequence[Arm]) -> list[RunSpec]:
    """The distinct runs behind ``arms``, in first-seen order."""
    return list(dict.fromkeys(a.spec for a in arms))


# ------------------------------------------------------------------------------------------ one run
def _pretrain_child(out_dir: str, kwargs: dict[str, Any]) -> None:
    """Entry point of an isolated pretraining (a spawned process, so its peak RSS is its own)."""
    torch.set_num_threads(kwargs.pop("_threads"))
    from colormae.train.pretrain import pretrain

    pretrain(out_dir, **kwargs)


def _run_pretrain(run_dir: Path, kwargs: dict[str, Any], *, isolate: bool) -> None:
    """``pretrain(run_dir, **kwargs)`` in this process or in a spawned child."""
    if not isolate:
        from colormae.train.pretrain import pretrain

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        pretrain(run_dir, **kwargs)
        return
    import multiprocessing as mp

    child_kwargs = {**kwargs, "_threads": torch.get_num_threads()}
    proc = mp.get_context("spawn").Process(target=_pretrain_child, args=(str(run_dir), child_kwargs))
    proc.start()
    try:
        proc.join()
    except KeyboardInterrupt:
        proc.join()  # the child got the same SIGINT and saves its checkpoint
        raise
    if proc.exitcode != 0:
        raise RuntimeError(f"pretraining {run_dir} failed in its child process (exit code {proc.exitcode})")


def _metrics_summary(run_dir: Path) -> tuple[float | None, float | None]:
    """``(final loss, peak memory in MB)`` from a run's ``metrics.jsonl``."""
    from colormae.train.metrics import read_metrics

    records = [r for r in read_metrics(run_dir) if "loss" in r]
    if not records:
        return None, None
    mems = [float(r["peak_mem_mb"]) for r in records if r.get("peak_mem_mb") is not None]
    return float(records[-1]["loss"]), (max(mems) if mems else None)


def _linear_probe(run_dir: Path, *, data: str, device: str, probe_epochs: int, probe_samples: int | None,
                  seed: int, progress: bool) -> dict[str, float]:
    """Linear-probe Top-1 / Top-5 (percent) of the run's encoder through ``colormae.eval`` (MAE's probe).

    With ``probe_samples`` only that many train / val images are encoded (quick sweeps).
    """
    from colormae.eval.probes import run_linprobe

    features = None
    if probe_samples is not None:
        features = _subset_features(run_dir, data, probe_samples, device)
    res = run_linprobe(str(run_dir), data, epochs=probe_epochs, warmup_epochs=max(1, probe_epochs // 10),
                       device=device, out=run_dir, features=features, seed=seed, progress=progress)
    return {"lp_top1": float(res["top1"]), "lp_top5": float(res["top5"])}


def _subset_features(run_dir: Path, data: str, n: int, device: str):
    """[CLS] features of ``n`` evenly spaced train and val images (so every class shows even when a data
    set is sorted by class), as ``colormae.eval.probes.FeatureSet``."""
    from torch.utils.data import Subset

    from colormae.data import build_dataset, eval_transform, num_classes
    from colormae.eval.features import extract_features
    from colormae.eval.probes import FeatureSet
    from colormae.train.checkpoint import load_mae

    model = load_mae(run_dir, map_location=device)
    tf = eval_transform(model.config.img_size)
    train = build_dataset(data, split="train", transform=tf)
    val = build_dataset(data, split="val", transform=tf)
    classes = num_classes(train)
    def spaced(ds):
        count = min(n, len(ds))
        return Subset(ds, torch.linspace(0, len(ds) - 1, count).round().long().tolist())

    tx, ty = extract_features(model, spaced(train), device=device, progress=False)
    vx, vy = extract_features(model, spaced(val), device=device, progress=False)
    return FeatureSet(tx, ty, vx, vy, classes)


def _finetune(run_dir: Path, *, data: str, device: str, epochs: int, seed: int, progress: bool) -> dict:
    """End-to-end fine-tuning Top-1 / Top-5 through ``colormae.eval.finetune``."""
    from colormae.eval.finetune import finetune

    res = finetune(run_dir / "finetune", str(run_dir), data=data, epochs=epochs, device=device, seed=seed,
                   progress=progress)
    top1, top5 = res["top1"], res["top5"]
    return {"ft_top1": top1, "ft_top5": top5}


@dataclass
class SweepSettings:
    """Everything an arm needs besides its :class:`RunSpec` (see :func:`run_sweep`)."""

    data: str
    budget: int
    model: str
    batch_size: int
    pattern_size: int
    probe_epochs: int
    probe_samples: int | None
    finetune: bool
    finetune_epochs: int
    device: str
    seed: int
    isolate: bool
    progress: bool
    steps_per_epoch: int


def run_arm(spec: RunSpec, run_dir: Path, s: SweepSettings) -> dict[str, Any]:
    """Pretrain (resuming if interrupted), probe and optionally fine-tune one spec; returns its numbers.

    Writes ``run_dir/result.json`` last, so its presence means the arm is finished.
    """
    done = run_dir / DONE_FILE
    if done.exists():
        return json.loads(done.read_text())
    pretrained = run_dir / "pretrain.json"
    start = time.perf_counter()
    if not pretrained.exists():
        kwargs = dict(
            model=s.model, data=s.data, num_workers=0, masking=spec.masking, mask_ratio=spec.ratio,
            bank_size=spec.num_patterns or DEFAULT_PATTERNS, pattern_size=s.pattern_size,
            epochs=math.ceil(s.budget / s.steps_per_epoch),
            warmup_epochs=0.1 * s.budget / s.steps_per_epoch,  # 10 % warmup, as 40 of MAE's 400 epochs
            max_steps=s.budget, batch_size=s.batch_size, seed=s.seed, ckpt_every=max(1, s.budget // 4),
            keep_last=1, log_every=max(1, s.budget // 20), resume=True, device=s.device,
            progress=s.progress,
        )
        _run_pretrain(run_dir, kwargs, isolate=s.isolate)
        loss, mem = _metrics_summary(run_dir)
        pretrained.write_text(json.dumps({"steps": s.budget, "final_loss": loss, "peak_mem_mb": mem,
                                          "pretrain_s": time.perf_counter() - start}) + "\n")
    result: dict[str, Any] = json.loads(pretrained.read_text())
    result.update(_linear_probe(run_dir, data=s.data, device=s.device, probe_epochs=s.probe_epochs,
                                probe_samples=s.probe_samples, seed=s.seed, progress=s.progress))
    if s.finetune:
        result.update(_finetune(run_dir, data=s.data, device=s.device, epochs=s.finetune_epochs, seed=s.seed,
                                progress=s.progress))
    result.update({"key": spec.key, **{k: v for k, v in asdict(spec).items()}})
    tmp = done.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, done)
    return result


# ---------------------------------------------------------------------------------------------- files
def read_csv_results(path: Path) -> dict[str, dict[str, Any]]:
    """Finished runs recorded in a ``results.csv``, by spec key (rows without a probe Top-1 are ignored)."""
    if not path.exists():
        return {}
    found: dict[str, dict[str, Any]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("key") and row.get("lp_top1") not in (None, ""):
                found[row["key"]] = {k: _number(v) for k, v in row.items()}
    return found


def _number(text: Any) -> Any:
    if text in (None, ""):
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return text
    return int(value) if value.is_integer() and "." not in str(text) else value


def table_rows(arms: Sequence[Arm], results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One CSV row per arm that has a result (``results`` by spec key)."""
    rows = []
    for arm in arms:
        res = results.get(arm.spec.key)
        if res is None:
            continue
        row = {f: res.get(f) for f in CSV_FIELDS}
        row.update(group=arm.group, setting=arm.setting, key=arm.spec.key, masking=arm.spec.masking,
                   ratio=arm.spec.ratio, num_patterns=arm.spec.num_patterns)
        rows.append(row)
    return rows


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write the rows (atomically: a temporary file, then a rename)."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in CSV_FIELDS})
    os.replace(tmp, path)
    return path


def _fmt(value: Any, digits: int = 2) -> str:
    return "–" if value in (None, "") else f"{float(value):.{digits}f}"


_TITLES = {
    "ratio": ("(a) ColorMAE-G with different masking ratios", "Masking ratio (%)"),
    "patterns": ("(b) ColorMAE-G with different numbers of noise patterns", "Number of patterns"),
    "noise": ("(c) MAE with different noises for mask sampling", "Random patterns"),
    "color": ("Masks of different colours (ratio 75 %)", "Mask"),
}


def markdown_table(rows: Sequence[dict[str, Any]], *, budget: int, data: str, model: str) -> str:
    """Table 1 of the supplement: sub-tables (a) ratio, (b) patterns, (c) noise, then colours."""
    lines = [f"# Ablations ({model}, {budget} pretraining steps on {data})", "",
             "Top-1 / Top-5 in percent; memory is the pretraining peak (MB). Duplicate settings "
             "(ratio 75 = 3072 patterns = Green; Uniform = Random) are one run.", ""]
    for group in GROUPS:
        grow = [r for r in rows if r["group"] == group]
        if not grow:
            continue
        title, first = _TITLES[group]
        with_mem = group in ("ratio", "patterns")
        head = f"| {first} | FT Top-1 | FT Top-5 | LP Top-1 | LP Top-5 |"
        head += " Memory (MB) |" if with_mem else ""
        lines += [f"## {title}", "", head, "|" + "---|" * (6 if with_mem else 5)]
        for r in grow:
            cells = [r["setting"], *(_fmt(r[k]) for k in ("ft_top1", "ft_top5", "lp_top1", "lp_top5"))]
            if with_mem:
                cells.append(_fmt(r["peak_mem_mb"], 0))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


#: Size of ``fig1.png`` in inches (1000 x 400 px at 100 dpi).
FIG1_INCHES = (10.0, 4.0)


def fig1(rows: Sequence[dict[str, Any]], out_path: Path) -> Path:
    """Fig. 1-style plot: linear-probe Top-1 vs masking ratio and vs number of patterns.

    Marker area grows with the arm's peak memory. The figure is :data:`FIG1_INCHES` (1000 x 400 px).
    """
    from colormae.viz.style import DPI, pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=FIG1_INCHES, dpi=DPI)
    mems = [float(r["peak_mem_mb"]) for r in rows if r.get("peak_mem_mb") not in (None, "")]
    mem_lo, span = (min(mems), max(mems) - min(mems)) if mems else (0.0, 0.0)

    def area(r: dict[str, Any]) -> float:  # 60..600 pt^2 from the smallest to the largest memory
        if r.get("peak_mem_mb") in (None, "") or span <= 0:
            return 200.0
        return 60.0 + 540.0 * (float(r["peak_mem_mb"]) - mem_lo) / span

    panels = ((axes[0], "ratio", "masking ratio (%)"), (axes[1], "patterns", "number of patterns"))
    for ax, group, xlabel in panels:
        grow = [r for r in rows if r["group"] == group and r.get("lp_top1") not in (None, "")]
        # the bank sizes are drawn evenly spaced (3072 and 4096 would overlap on a log axis)
        xs = [float(r["setting"]) if group == "ratio" else float(i) for i, r in enumerate(grow)]
        ys = [float(r["lp_top1"]) for r in grow]
        ax.plot(xs, ys, color="C2", linewidth=1, zorder=1)
        ax.scatter(xs, ys, s=[area(r) for r in grow], color="C2", alpha=0.6, edgecolor="k", zorder=2)
        for j, (r, x, y) in enumerate(zip(grow, xs, ys, strict=True)):
            if r.get("peak_mem_mb") not in (None, ""):  # alternate above / below so neighbours don't clash
                ax.annotate(f"{float(r['peak_mem_mb']):.0f} MB", (x, y), textcoords="offset points",
                            xytext=(0, 12 if j % 2 == 0 else -18), ha="center", fontsize=7)
        ax.set_xticks(xs, [r["setting"] for r in grow])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("linear-probe Top-1 (%)")
        ax.grid(alpha=0.3)
        ax.margins(x=0.12, y=0.25)
        y_lo, y_hi = ax.get_ylim()
        ax.set_ylim(max(y_lo, -1.0), min(y_hi, 101.0))  # accuracies live in [0, 100]
    axes[0].set_title("(a) masking ratio, ColorMAE-G (marker area ~ memory)", fontsize=9)
    axes[1].set_title("(b) number of green patterns", fontsize=9)
    fig.tight_layout()  # rearranges axes inside the fixed figure size
    return save_figure(fig, out_path)


# ---------------------------------------------------------------------------------------------- sweep
#: Settings that change an arm's numbers: resuming with other values would mix incomparable rows.
_RESULT_SETTINGS = ("data", "budget", "model", "batch_size", "pattern_size", "probe_epochs", "probe_samples",
                    "seed")


def _check_same_settings(path: Path, settings: SweepSettings) -> None:
    """Record the sweep's settings in ``path``, or refuse to resume a sweep made with other ones."""
    now = {k: getattr(settings, k) for k in _RESULT_SETTINGS}
    if path.exists():
        before = json.loads(path.read_text())
        changed = [k for k in _RESULT_SETTINGS if k in before and before[k] != now[k]]
        if changed:
            k = changed[0]
            raise UserError(f"{path.parent} holds a sweep with {k}={before[k]!r}, not {now[k]!r}; "
                            "use another --out (or the same settings to resume)")
    path.write_text(json.dumps(now, indent=2) + "\n")


def run_sweep(out_dir: str | Path, *, data: str = "mnist5k", budget: int = 200,
              groups: Iterable[str] = GROUPS, model: str = "mae_vit_tiny_32px", batch_size: int = 64,
              pattern_size: int = 64, probe_epochs: int = 20, probe_samples: int | None = None,
              finetune: bool = False, finetune_epochs: int = 5, device: str | None = None, seed: int = 0,
              isolate: bool | None = None, progress: bool = True, verbose: bool = False,
              echo: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Run (or resume) the ablation sweep in ``out_dir``; returns the table rows (also in ``results.csv``).

    Args:
        data: dataset name or ImageFolder path (``colormae.data.build_dataset``), with a ``val`` split.
        budget: pretraining optimizer steps per arm.
        groups: which of :data:`GROUPS` to run.
        model: MAE preset (a small one: the sweep trains every arm from scratch).
        pattern_size: side of the generated pattern banks (paper: 256; the window is only the patch grid).
        probe_epochs, probe_samples: linear-probe epochs and an optional cap on train / val images.
        isolate: pretrain each arm in a child process (default: on CPU, see the module docstring).
        progress: one progress bar over the arms; ``verbose`` adds the pretraining / probing bars of each arm.
        echo: where the one line per finished arm goes (default: ``colormae.progress.write``, above the bar).
    """
    from colormae.data import build_dataset
    from colormae.progress import progress as progress_bar
    from colormae.progress import write

    if budget < 1:
        raise UserError(f"--budget must be a positive number of steps, got {budget}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    isolate = torch.device(device).type == "cpu" if isolate is None else isolate
    n_train = len(build_dataset(data, split="train"))
    if n_train < batch_size:
        raise UserError(f"{data}: {n_train} training images are fewer than a batch of {batch_size}")
    settings = SweepSettings(data=data, budget=budget, model=model, batch_size=batch_size,
                             pattern_size=pattern_size, probe_epochs=probe_epochs,
                             probe_samples=probe_samples,
                             finetune=finetune, finetune_epochs=finetune_epochs, device=device, seed=seed,
                             isolate=isolate, progress=verbose, steps_per_epoch=n_train // batch_size)
    arms = build_arms(groups)
    specs = unique_specs(arms)
    csv_path = out / RESULTS_CSV
    results = read_csv_results(csv_path)
    _check_same_settings(out / "sweep.json", settings)
    echo = echo or write
    bar = progress_bar(specs, desc="sweep", unit="arm", enabled=progress)
    for i, spec in enumerate(bar, start=1):
        labels = ", ".join(f"{a.group}={a.setting}" for a in arms if a.spec == spec)
        bar.set_postfix_str(spec.key)
        if spec.key in results:
            echo(f"[{i}/{len(specs)}] {spec.key} ({labels}): in {RESULTS_CSV}, skipped")
            continue
        run_dir = out / "arms" / spec.key
        reused = (run_dir / DONE_FILE).exists()
        t0 = time.perf_counter()
        res = run_arm(spec, run_dir, settings)
        results[spec.key] = res
        write_csv(csv_path, table_rows(arms, results))
        mem = res.get("peak_mem_mb")
        echo(f"[{i}/{len(specs)}] {spec.key} ({labels}): "
             + ("done before, reused; " if reused else "")
             + f"loss {_fmt(res.get('final_loss'), 4)}, linear probe Top-1 {_fmt(res['lp_top1'])} "
             f"Top-5 {_fmt(res['lp_top5'])}"
             + (f", fine-tune Top-1 {_fmt(res.get('ft_top1'))}" if finetune else "")
             + f", peak mem {_fmt(mem, 0)} MB, {time.perf_counter() - t0:.1f} s")
    rows = table_rows(arms, results)
    write_csv(csv_path, rows)
    (out / "table.md").write_text(markdown_table(rows, budget=budget, data=data, model=model) + "\n")
    if any(r["group"] in ("ratio", "patterns") for r in rows):
        fig1(rows, out / "fig1.png")
    return rows
