"""Which differences between sweep arms are real: paired-by-seed differences to a reference arm.

Every arm trains with the same seeds (seed ``s`` sets initialisation, data order, masks and probes), so
arm ``a`` and the reference ``r`` form pairs ``d_s = a_s - r_s``. The interval is the paired t interval
of the mean difference, ``mean(d) +- t_{0.975, n-1} * sd(d) / sqrt(n)`` (Student's t quantile from
``scipy.stats``): it assumes the per-seed differences are roughly normal, which is the honest choice for
3-5 seeds (a bootstrap over 3 pairs has only 10 distinct resamples). An interval that excludes zero is
marked ``*``. With one seed there is a difference but no interval.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

#: Confidence level of the intervals.
LEVEL = 0.95
#: The method named in tables and files.
METHOD = "paired t"


def paired_interval(diffs: Sequence[float], level: float = LEVEL) -> tuple[float, float | None, float | None]:
    """``(mean, low, high)`` of the paired t interval of ``diffs``; ``low``/``high`` None when ``n < 2``.

    A zero spread gives the zero-width interval ``(mean, mean)``.
    """
    from scipy import stats

    n = len(diffs)
    if n == 0:
        raise ValueError("no paired differences")
    mean = statistics.fmean(diffs)
    if n < 2:
        return mean, None, None
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * statistics.stdev(diffs) / math.sqrt(n)
    return mean, mean - half, mean + half


def is_reference(row: Mapping[str, Any], reference: str) -> bool:
    """Whether a result row belongs to the reference arm: its masking or its label is ``reference``."""
    return reference in (row.get("masking"), row.get("setting"))


def _by_seed(rows: Sequence[Mapping[str, Any]], metric: str) -> dict[int, float]:
    return {int(r["seed"]): float(r[metric]) for r in rows if r.get(metric) not in (None, "")}


def reference_rows(rows: Sequence[Mapping[str, Any]], group: str, reference: str) -> list[Mapping[str, Any]]:
    """The reference arm's per-seed rows for ``group``: its own reference row, else the reference of any
    group (one run, the same numbers), else none."""
    own = [r for r in rows if r["group"] == group and is_reference(r, reference)]
    if own:
        return own
    first = next((r for r in rows if is_reference(r, reference)), None)
    if first is None:
        return []
    return [r for r in rows if r["key"] == first["key"] and r["group"] == first["group"]]


def compare(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str], reference: str = "random",
            level: float = LEVEL) -> list[dict[str, Any]]:
    """One record per (group, arm, metric) with a reference in its group: ``n`` pairs, ``diff`` (mean
    paired difference), ``low`` / ``high`` (interval or None), ``excludes_zero``, ``reference`` (its
    label) and ``method``. The reference arm itself is left out."""
    out = []
    for group in dict.fromkeys(r["group"] for r in rows):
        ref = reference_rows(rows, group, reference)
        if not ref:
            continue
        ref_key = ref[0]["key"]
        for setting in dict.fromkeys(r["setting"] for r in rows if r["group"] == group):
            arm = [r for r in rows if r["group"] == group and r["setting"] == setting]
            if arm[0]["key"] == ref_key:
                continue
            for metric in metrics:
                a, b = _by_seed(arm, metric), _by_seed(ref, metric)
                seeds = sorted(set(a) & set(b))
                if not seeds:
                    continue
                diff, low, high = paired_interval([a[s] - b[s] for s in seeds], level)
                out.append({"group": group, "setting": setting, "metric": metric,
                            "reference": ref[0]["setting"],
                            "n": len(seeds), "diff": diff, "low": low, "high": high,
                            "excludes_zero": low is not None and (low > 0 or high < 0), "method": METHOD,
                            "level": level})
    return out


def per_seed_differences(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str],
                         reference: str = "random") -> list[dict[str, float | None]]:
    """For each row, ``{"d_<metric>": row - reference row of the same seed}`` (None without a pair)."""
    out = []
    for r in rows:
        ref = {int(x["seed"]): x for x in reference_rows(rows, r["group"], reference)}
        pair = ref.get(int(r["seed"]))
        diffs: dict[str, float | None] = {}
        for m in metrics:
            ok = pair is not None and r.get(m) not in (None, "") and pair.get(m) not in (None, "")
            diffs["d_" + m] = float(r[m]) - float(pair[m]) if ok else None
        out.append(diffs)
    return out


def format_difference(record: Mapping[str, Any] | None, digits: int = 2) -> str:
    """``+1.23 [-0.45, +2.91] *``: the mean difference, its interval, ``*`` where it excludes zero."""
    if record is None:
        return "–"
    text = f"{record['diff']:+.{digits}f}"
    if record["low"] is None:
        return text
    mark = " \\*" if record["excludes_zero"] else ""
    return f"{text} [{record['low']:+.{digits}f}, {record['high']:+.{digits}f}]{mark}"
