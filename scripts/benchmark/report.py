"""The one report writer: every table scripts/bench prints, kept in the JSON
as it is printed (`tables`), and the targets.

A table is a title, column headers, rows and notes; a row a label, its
figures (text, as printed), and where it has one its target and MET / NOT
MET. The bench never fails on a target: on a noisy machine a missed one is
a finding to report, not a crash.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

Figures = dict[str, Any]
Report = tuple[list[Figures], list[Figures]]  # a section's tables, its targets
GAP = "  "


def n(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def span(values: Sequence[float], digits: int = 2) -> str:
    return f"{n(min(values), digits)}-{n(max(values), digits)}"


def row(label: str, *figures: str, target: str = "", met: bool | None = None,
        goal: Figures | None = None) -> Figures:
    """A table row; a row without figures prints its label alone. With `goal`
    (a `target()`), its limit as the row's target (unless given) and its verdict."""
    if goal is not None:
        met = goal["met"]
        target = target or f"{goal['comparison']} {with_unit(goal['limit'], goal['unit'])}"
    return {"label": label, "figures": list(figures), "target": target, "met": met}


def table(title: str, columns: Iterable[str], rows: Iterable[Figures],
          notes: Iterable[str] = ()) -> Figures:
    return {"title": title, "columns": list(columns), "rows": list(rows), "notes": list(notes)}


def target(name: str, measured: float | None, limit: float, unit: str,
           at_least: bool = False) -> Figures:
    met = measured is not None and (measured >= limit if at_least else measured <= limit)
    return {"name": name, "measured": measured, "limit": limit, "unit": unit,
            "comparison": ">=" if at_least else "<=", "met": met}


def with_unit(value: float | None, unit: str) -> str:
    if unit in ("x", "s"):
        return f"{n(value)}{' s' if unit == 's' else 'x'}"
    return f"{n(value, 1 if unit == 'ms' else 0)} {unit}"


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile `q` (0-100) of `values`."""
    ordered = sorted(values)
    return ordered[min(max(1, round(q / 100 * len(ordered))), len(ordered)) - 1]


def spread(values: Iterable[float | None], unit: str) -> dict[str, float | None]:
    """min / median / max of the figures there are, keyed min_`unit`...; max
    is None when one is missing (a run that never got there)."""
    given = list(values)
    present = sorted(v for v in given if v is not None)
    if not present:
        return dict.fromkeys((f"min_{unit}", f"median_{unit}", f"max_{unit}"))
    return {f"min_{unit}": present[0], f"median_{unit}": statistics.median(present),
            f"max_{unit}": None if len(present) < len(given) else present[-1]}


def targets_table(targets: Iterable[Figures]) -> Figures:
    return table("targets", ("measured",), (
        row(t["name"], with_unit(t["measured"], t["unit"]), goal=t) for t in targets))


def table_lines(figures: Figures) -> list[str]:
    """A table as aligned text: labels left, figures and targets right, then
    the verdict; every column as wide as its widest cell."""
    rows, columns = figures["rows"], figures["columns"]
    full = [r for r in rows if r["figures"]]
    label_width = max((len(r["label"]) for r in full), default=0)
    widths = [max([len(column), *(len(r["figures"][i]) for r in full)])
              for i, column in enumerate(columns)]
    targets = [r["target"] for r in rows if r["target"]]
    target_width = max((len(t) for t in targets), default=0)

    def line(label: str, cells: Sequence[str], goal: str, verdict: str) -> str:
        text = f"{label:<{label_width}}" + "".join(
            f"{GAP}{cell:>{width}}" for cell, width in zip(cells, widths, strict=True))
        if targets:
            text += f"{GAP}{goal:>{max(target_width, len('target'))}}{GAP}{verdict}"
        return text.rstrip()

    lines = ["", figures["title"], line("", columns, "target" if targets else "", "")]
    for r in rows:
        verdict = "" if r["met"] is None else "MET" if r["met"] else "NOT MET"
        lines.append(line(r["label"], r["figures"], r["target"], verdict)
                     if r["figures"] else r["label"])
    return [*lines, *(f"{GAP}{note}" for note in figures["notes"])]


def header(report: Figures) -> list[str]:
    machine, gen, settings = report["machine"], report["generator"], report["settings"]
    lines = [
        (f"roleready-cache bench ({'quick' if settings['quick'] else 'default'} run, "
         f"{report['runtime_s']:.0f} s)"),
        (f"machine: {machine['cpu_model']}, {machine['cpus']} CPUs, Python {machine['python']}, "
         f"redis-server {machine['redis_server']}"),
    ]
    if report.keys() & {"throughput", "outage", "compare"}:  # where the generator's load counts
        lines.append(
            f"load: {gen['name']} {gen['version']}, {gen['threads']} threads x {gen['connections']} "
            f"connections; value {settings['value_bytes']} B; medians of {settings['rounds']} "
            f"round(s) x {settings['duration_s']} s one after the other, and of "
            f"{settings['side_by_side_rounds']} x {settings['side_by_side_s']} s side by side, "
            f"rotating over {settings['instances']} process(es) of each server")
    return [*lines, f"placement: {settings['placement']}"]


SIDE_COLUMNS = ("req/s", "p50 ms", "p99 ms", "CPU us")


def side(figures: Figures) -> list[str]:
    return [n(figures["rps"], 0), n(figures["p50_ms"]), n(figures["p99_ms"]),
            n(figures["cpu_us_per_request"], 1)]


def comparison_table(title: str, comparisons: Iterable[Figures]) -> Figures:
    """compare.compare()'s figures: each side alone, and the ratios."""
    rows = []
    for f in comparisons:
        s, b = f["service"], f["baseline"]
        rows += [row(f["title"], *side(s), *side(b), f"{f['ratio']:.2f}x",
                     f"{f['ratio_one_after_the_other']:.2f}x", f"{f['cpu_ratio']:.2f}x",
                     target=f">= {f['target_ratio']:.2f}x", met=f["met"]),
                 row(f"{GAP}vs {f['baseline_kind']}")]
        if s["non_2xx"] or b["non_2xx"] or s["socket_errors"] or b["socket_errors"]:
            rows.append(row(f"{GAP}! non-2xx {s['non_2xx']}/{b['non_2xx']}, socket errors "
                            f"{s['socket_errors']}/{b['socket_errors']} (service/baseline)"))
    return table(f"{title}: the service alone, then its baseline (base) alone; ratios",
                 (*SIDE_COLUMNS, *(f"base {c}" for c in SIDE_COLUMNS), "ratio", "alone", "CPU"),
                 rows, ("ratio: both loaded side by side on one CPU (robust to CPU drift); "
                        "alone: median of per-round ratios, one after the other;",
                        "CPU: side by side, baseline CPU time per request / the service's"))


def render(report: Figures) -> str:
    return "\n".join([*header(report), *(line for t in report["tables"]
                                          for line in table_lines(t))])
