"""The one report writer: the table scripts/bench prints, built from the dict
it writes as JSON, and the targets (read by people).

Each section's module gives its lines and its targets (sections.py lists
them); this module gives the header, the formatting and the targets list.
Each target says what was measured, the limit and whether it was met; the
bench never fails on them: on a noisy machine a missed target is a finding
to report, not a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Figures = dict[str, Any]
Lines = Callable[[Figures], list[str]]


def n(value: float | None, digits: int = 2) -> str:
    """A figure for the table ('-' when there is none)."""
    return "-" if value is None else f"{value:,.{digits}f}"


def target(name: str, measured: float | None, limit: float, unit: str,
           at_least: bool = False) -> Figures:
    met = measured is not None and (measured >= limit if at_least else measured <= limit)
    return {"name": name, "measured": measured, "limit": limit, "unit": unit,
            "comparison": ">=" if at_least else "<=", "met": met}


def _with_unit(value: float | None, unit: str) -> str:
    if unit in ("x", "s"):
        return f"{n(value)}{' s' if unit == 's' else 'x'}"
    return f"{n(value, 1 if unit == 'ms' else 0)} {unit}"


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


def side(figures: Figures) -> str:
    """req/s, p50, p99 and CPU us per request of one side of a comparison."""
    return (f"{n(figures['rps'], 0):>9}{n(figures['p50_ms']):>7}{n(figures['p99_ms']):>7}"
            f"{n(figures['cpu_us_per_request'], 1):>9}")


SIDE_HEADER = f"{'req/s':>9}{'p50 ms':>7}{'p99 ms':>7}{'CPU us':>9}"


def comparison_lines(title: str, comparisons: Iterable[Figures]) -> list[str]:
    """compare.compare()'s figures: each side alone, and the ratios."""
    lines = ["", (f"{title:<16}{'service, alone':>32}{'baseline, alone':>32}"
                  f"{'ratio':>8}{'target':>8}{'alone':>8}{'CPU':>8}"), f"{'':<16}{SIDE_HEADER * 2}"]
    for f in comparisons:
        s, b = f["service"], f["baseline"]
        lines += [f"{f['title']:<16}{side(s)}{side(b)}{f['ratio']:>7.2f}x{f['target_ratio']:>7.2f}x"
                  f"{f['ratio_one_after_the_other']:>7.2f}x{f['cpu_ratio']:>7.2f}x",
                  f"{'':<4}vs {f['baseline_kind']}"]
        if s["non_2xx"] or b["non_2xx"] or s["socket_errors"] or b["socket_errors"]:
            lines.append(f"{'':<4}! non-2xx {s['non_2xx']}/{b['non_2xx']}, socket errors "
                         f"{s['socket_errors']}/{b['socket_errors']} (service/baseline)")
    return [*lines, "  ratio: both loaded side by side on one CPU (robust to CPU drift); "
                    "alone: median of per-round ratios, one after the other;",
            "  CPU: side by side, baseline CPU time per request / the service's"]


def render(report: Figures, sections: Iterable[tuple[str, Lines]]) -> str:
    lines = header(report)
    for key, lines_of in sections:
        if key in report:
            lines += lines_of(report[key])
    lines += ["", "targets"]
    for t in report["targets"]:
        lines.append(f"  {'met' if t['met'] else 'NOT MET':<8}{t['name']}: "
                     f"{_with_unit(t['measured'], t['unit'])} ({t['comparison']} "
                     f"{_with_unit(t['limit'], t['unit'])})")
    return "\n".join(lines)
