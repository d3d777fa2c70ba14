"""The table scripts/bench prints, built from the same dict it writes as JSON."""

from __future__ import annotations

from typing import Any

from scripts.benchmark.ab import compare_lines
from scripts.benchmark.batch import batch_lines


def _n(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def header(report: dict[str, Any]) -> list[str]:
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


def throughput_lines(throughput: dict[str, Any]) -> list[str]:
    lines = ["", (f"{'throughput':<16}{'service, alone':>32}{'baseline, alone':>32}"
                  f"{'ratio':>8}{'target':>8}{'alone':>8}{'CPU':>8}"),
             (f"{'':<16}{'req/s':>9}{'p50 ms':>7}{'p99 ms':>7}{'CPU us':>9}"
              f"{'req/s':>9}{'p50 ms':>7}{'p99 ms':>7}{'CPU us':>9}")]
    for figures in throughput.values():
        s, b = figures["service"], figures["baseline"]
        lines.append(
            f"{figures['title']:<16}{_n(s['rps'], 0):>9}{_n(s['p50_ms']):>7}{_n(s['p99_ms']):>7}"
            f"{_n(s['cpu_us_per_request'], 1):>9}"
            f"{_n(b['rps'], 0):>9}{_n(b['p50_ms']):>7}{_n(b['p99_ms']):>7}"
            f"{_n(b['cpu_us_per_request'], 1):>9}"
            f"{figures['ratio']:>7.2f}x{figures['target_ratio']:>7.2f}x"
            f"{figures['ratio_one_after_the_other']:>7.2f}x{figures['cpu_ratio']:>7.2f}x"
        )
        lines.append(f"{'':<4}vs {figures['baseline_kind']}")
        if s["non_2xx"] or b["non_2xx"] or s["socket_errors"] or b["socket_errors"]:
            lines.append(f"{'':<4}! non-2xx {s['non_2xx']}/{b['non_2xx']}, socket errors "
                         f"{s['socket_errors']}/{b['socket_errors']} (service/baseline)")
    lines.append("  ratio: both loaded side by side on one CPU (robust to CPU drift); "
                 "alone: median of per-round ratios, one after the other;")
    lines.append("  CPU: side by side, baseline CPU time per request / the service's")
    return lines


def outage_lines(outage: dict[str, Any]) -> list[str]:
    link = outage["link"]
    lines = ["", f"outage under load ({outage['workload']}); link: " + ", ".join(
        f"{name}={value}" for name, value in link["env"].items()),
        (f"{'':<9}{'phase':<10}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>9}{'404':>6}"
         f"{'bad':>5}")]
    for kind in ("kill", "pause"):
        scenario = outage[kind]
        for index, (name, phase) in enumerate(scenario["phases"].items()):
            rps = phase["requests"] / max(1, len(scenario["rounds"])) / outage["phase_s"][name]
            lines.append(f"{kind if index == 0 else '':<9}{name:<10}{_n(rps, 0):>9}"
                         f"{_n(phase['p50_ms']):>8}{_n(phase['p99_ms']):>8}"
                         f"{_n(phase['max_ms'], 1):>9}{phase['not_found']:>6}{phase['bad']:>5}")
        lines.append(f"{'':<9}detection {_n(scenario['detection_ms'], 1)} ms, recovery "
                     f"{_n(scenario['recovery_ms'], 0)} ms (pending backoff "
                     f"{_n(scenario['pending_backoff_ms'], 0)} ms), medians")
    reference = outage.get("memory_only_mix")
    if reference is not None:
        lines.append(f"{'':<9}same mix, memory only (no Redis at all): p50 "
                     f"{_n(reference['p50_ms'])} ms, p99 {_n(reference['p99_ms'])} ms")
    return lines


def memory_lines(memory: dict[str, Any]) -> list[str]:
    lines = ["", "in-process: the memory tier against cachetools",
             (f"{'in-process (M ops/s)':<24}{'memory tier':>12}{'LRUCache':>10}"
                  f"{'TTLCache':>10}{'vs LRU':>9}{'vs TTL':>9}")]
    for key, title in (("get_hit", "get hit"), ("set", "set (evicting)")):
        row = memory[key]
        lines.append(f"{title:<24}{row['memory_tier'] / 1e6:>12.2f}{row['lru_cache'] / 1e6:>10.2f}"
                     f"{row['ttl_cache'] / 1e6:>10.2f}{row['ratio_vs_lru']:>8.2f}x"
                     f"{row['ratio_vs_ttl']:>8.2f}x")
    get_method = memory["get_hit"].get("ratio_vs_lru_get")
    if get_method is not None:
        lines.append(f"  get hit vs LRUCache.get(key) (None on a miss, as the tier's get): "
                     f"{get_method:.2f}x; the tier reads the clock on every get, so it never "
                     f"serves an expired entry")
    return lines


def _with_unit(value: float | None, unit: str) -> str:
    if unit == "x":
        return f"{_n(value)}x"
    if unit == "s":
        return f"{_n(value)} s"
    return f"{_n(value, 1 if unit == 'ms' else 0)} {unit}"


def target_lines(targets: list[dict[str, Any]]) -> list[str]:
    lines = ["", "targets"]
    for t in targets:
        mark = "met" if t["met"] else "NOT MET"
        lines.append(f"  {mark:<8}{t['name']}: {_with_unit(t['measured'], t['unit'])} "
                     f"({t['comparison']} {_with_unit(t['limit'], t['unit'])})")
    return lines


def invalidation_lines(figures: dict[str, Any]) -> list[str]:
    return ["", "invalidation: B serves A's new value, from A's PUT acknowledged",
            f"  {figures['samples']} keys: p50 {_n(figures['p50_ms'])} ms, "
            f"p99 {_n(figures['p99_ms'])} ms, max {_n(figures['max_ms'])} ms "
            f"(polling resolution: one GET round trip, p50 {_n(figures['get_round_trip_p50_ms'])} ms)"]


def failover_lines(failover: dict[str, Any]) -> list[str]:
    load = failover["load"]
    lines = ["", (f"failover: master SIGKILLed, {failover['runs']} run(s) each, under "
                  f"{load['rate_per_s']} req/s ({load['mix']}); /health/detailed polled every "
                  f"{failover['poll_interval_ms']:.0f} ms"),
             (f"{'':<10}{'kill -> ready, s':<28}{'target':>9}{'requests':>10}{'5xx':>6}"
              f"{'refused':>9}{'failed':>8}{'max ms':>9}"),
             f"{'':<10}{'min':>8}{'median':>10}{'max':>10}"]
    for mode in ("sentinel", "cluster"):
        figures = failover[mode]
        ready, total = figures["ready"], figures["load"]
        lines.append(f"{mode:<10}{_n(ready['min_s']):>8}{_n(ready['median_s']):>10}"
                     f"{_n(ready['max_s']):>10}{figures['target_s']:>8.1f}s{total['requests']:>10}"
                     f"{total['s5xx']:>6}{total['refused']:>9}{total['failed']:>8}"
                     f"{_n(total['max_ms'], 1):>9}")
    sentinel, cluster = failover["sentinel"], failover["cluster"]
    lines.append(f"  sentinel: down-after-milliseconds {sentinel['down_after_ms']}, "
                 f"failover-timeout {sentinel['failover_timeout_ms']}, quorum {sentinel['quorum']}; "
                 f"ready = healthy, topology.master the promoted replica")
    topology = cluster["topology_ready"]
    lines.append(f"  cluster: cluster-node-timeout {cluster['node_timeout_ms']}; ready = every "
                 f"node ready with the promoted replica (median {_n(topology['median_s'])} s), "
                 f"then a key of the lost master PUT through A, read through B as hit-redis")
    return lines


def _stampede_row(label: str, figures: dict[str, Any]) -> str:
    answers = figures.get("answers", {})
    fills = answers.get("hit-fill", 0)
    hits = answers.get("hit-memory", 0) + answers.get("hit-redis", 0)
    return (f"{label:<10}{figures['computations']:>8}{fills:>7}{hits:>6}{figures['retries']:>8}"
            f"{figures['errors']:>7}{_n(figures['p50_ms'], 1):>9}{_n(figures['p99_ms'], 1):>9}"
            f"{_n(figures['max_ms'], 1):>9}")


def stampede_lines(stampede: dict[str, Any]) -> list[str]:
    lease, hit = stampede["lease"], stampede["hit_cost"]
    lines = ["", (f"stampede: {stampede['callers']} callers at once miss one fresh key, half on "
                  f"each of {stampede['instances']} instances; compute {stampede['compute_ms']} "
                  f"ms; {stampede['rounds']} round(s); client: {stampede['client']}"),
             (f"{'':<10}{'computed':>8}{'fill':>7}{'hit':>6}{'retries':>8}{'errors':>7}"
              f"{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}   (time to value, from the start)")]
    for mode, title in (("lease", "leases"), ("plain", "no lease")):
        figures = stampede[mode]
        for index, row in enumerate(figures["rounds"]):
            lines.append(_stampede_row(f"{title if index == 0 else ''}", row)
                         + f"   round {index + 1}")
        total = {"computations": sum(figures["computations_per_round"]),
                 "answers": _summed_answers(figures["rounds"]), **figures}
        lines.append(_stampede_row("", total) + "   all rounds")
    counters = stampede["server_lease_counters"]
    lines.append(f"  computations: target 1 per round with leases, {stampede['callers']} expected "
                 f"without; services' counters: issued {counters.get('issued')}, filled "
                 f"{counters.get('filled')}, refused {counters.get('refused')}, taken over "
                 f"{counters.get('takenOver')}")
    lines.append("  with leases, per round: last caller's GET began / holder's token / its PUT "
                 "acknowledged / slowest hit-fill after that PUT (ms): " + "; ".join(
                     f"{_n(r['last_asked_ms'], 1)} / {_n(r['first_token_ms'], 1)} / "
                     f"{_n(r['first_put_done_ms'], 1)} / +{_n(r['fill_after_put_max_ms'], 1)}"
                     for r in lease["rounds"]))
    lines.append("  with leases, slowest caller on instance A / B per round (ms): " + "; ".join(
        " / ".join(_n(v, 1) for v in r["max_ms_by_instance"]) for r in lease["rounds"]))
    for mode in ("lease", "plain"):
        lines.append(f"  {'with' if mode == 'lease' else 'without'} leases: wrong values "
                     f"{stampede[mode]['wrong_values']}, refused PUTs "
                     f"{stampede[mode]['puts_refused']}")
    return lines + hit_cost_lines(hit)


def hit_cost_lines(hit: dict[str, Any]) -> list[str]:
    lines = [(f"  ?lease=1 on a memory hit vs plain GET ({hit['generator']} -t{hit['threads']} "
              f"-c{hit['connections']}; {len(hit['side_by_side']['rounds'])} rounds, "
              f"{hit['duration_s']} s each alone, twice that side by side)")]
    for way, title in (("side_by_side", "side by side (lease on A, plain on B, swapped each "
                                        "round; half the load each)"),
                       ("one_after_the_other", "one after the other (alternating order)")):
        f = hit[way]
        lines.append(f"    {title}: GET {_n(f['plain_rps'], 0)} req/s, ?lease=1 "
                     f"{_n(f['lease_rps'], 0)} req/s (medians); ratio {_n(f['ratio'], 3)}x, "
                     f"rounds {_n(f['ratio_min'], 3)}-{_n(f['ratio_max'], 3)}x; CPU per "
                     f"request {_n(f['cpu_ratio'], 3)}x; plain GET req/s varied "
                     f"{100 * f['plain_rps_spread']:.0f} % between rounds")
        lines.append("      per round: " + ", ".join(f"{r['ratio']:.3f}" for r in f["rounds"]))
    return lines


def worker_lines(figures: dict[str, Any]) -> list[str]:
    workers = figures["workers"]
    lines = [*throughput_lines(figures["event_loop"]), "",
             f"{'workers':<16}{'WORKERS=1':>32}{'WORKERS=2':>32}{'2 / 1':>8}",
             (f"{'':<16}" + f"{'req/s':>9}{'p50 ms':>7}{'p99 ms':>7}{'CPU us':>9}" * 2)]
    for case, row_figures in workers.items():
        row = f"{case:<16}"
        for count in (1, 2):
            f = row_figures[f"workers_{count}"]
            row += (f"{_n(f['rps'], 0):>9}{_n(f['p50_ms']):>7}{_n(f['p99_ms']):>7}"
                    f"{_n(f['cpu_us_per_request'], 1):>9}")
        rounds = row_figures["scaling_per_round"]
        lines.append(f"{row}{row_figures['scaling']:>7.2f}x  (rounds {min(rounds):.2f}-"
                     f"{max(rounds):.2f})")
    lines.append("  alone, one after the other; the service free to use every CPU, wrk and "
                 "redis-server on the second (see workers.py)")
    return lines


def _summed_answers(rounds: list[dict[str, Any]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for row in rounds:
        for name, count in row["answers"].items():
            total[name] = total.get(name, 0) + count
    return total


def render(report: dict[str, Any]) -> str:
    lines = header(report)
    for key, lines_of in (("throughput", throughput_lines), ("outage", outage_lines),
                          ("memory_tier", memory_lines), ("invalidation", invalidation_lines),
                          ("failover", failover_lines), ("stampede", stampede_lines),
                          ("batch", batch_lines), ("workers", worker_lines),
                          ("compare", compare_lines)):
        if key in report:
            lines += lines_of(report[key])
    return "\n".join(lines + target_lines(report["targets"]))
