"""Stampede: N callers miss one key at once, with and without leases (herd.py,
its own process), then what `?lease=1` costs on a hit (compare.py's side
by side, ?lease=1 on one instance and plain GET on the other, swapped each
round). The services' lease counters are read as a cross-check.

Method: docs/performance.md, "Stampede: leases".
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scripts.benchmark import workloads as wl
from scripts.benchmark.compare import Comparison, Rounds, compare
from scripts.benchmark.load import Request, Workload
from scripts.benchmark.processes import BenchError, http_json, ready, result
from scripts.benchmark.report import Figures, Report, n, percentile, row, table, target
from scripts.harness.service_process import ServiceProcess, http

if TYPE_CHECKING:
    from scripts.benchmark.sections import Run

HIT_KEY = "stampede-hit"
# The slack the target gives the time to value over one computation.
TIME_TO_VALUE_SLACK_MS = 50.0
# ?lease=1 on a hit "within noise" of a plain GET: this line, spread printed beside it.
HIT_COST_TARGET = 0.97
HERD_LIMIT_S = 600


@dataclass(frozen=True)
class StampedePlan:
    callers: int = 200
    rounds: int = 5
    compute_ms: int = 500
    hit_rounds: int = 6
    hit_duration_s: int = 1


def _times(callers: list[dict[str, Any]]) -> dict[str, float | None]:
    times = [c["ms"] for c in callers if c["ms"] is not None]
    if not times:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99), "max_ms": max(times)}


def summarize_scenario(callers: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and times of one scenario's callers (herd.py's outcomes)."""
    answers = dict(Counter(c["how"] for c in callers))
    puts = [c["put_done_ms"] for c in callers if c["put_done_ms"] is not None]
    first_put = min(puts, default=None)
    waiters = [c["ms"] - first_put for c in callers
               if first_put is not None and c["how"] == "hit-fill" and c["ms"] is not None]
    computing = [c for c in callers if c["how"] == "computed"]
    return {
        "callers": len(callers), "computations": answers.get("computed", 0), "answers": answers,
        "retries": sum(c["retries"] for c in callers), "errors": answers.get("error", 0),
        "wrong_values": sum(1 for c in callers if c["how"] != "error" and not c["right_value"]),
        "puts_refused": sum(1 for c in callers if c["put_status"] not in (None, 204)),
        **_times(callers),
        # The timeline: the last caller's GET began (the client's dispatch),
        # the first computing caller had its answer (a token) and its PUT
        # was acknowledged, the last hit-fill came after that PUT.
        "last_asked_ms": max((c["asked_ms"] for c in callers if c["asked_ms"] is not None),
                             default=None),
        "first_token_ms": min((c["first_answer_ms"] for c in computing), default=None),
        "first_put_done_ms": first_put,
        "fill_after_put_max_ms": max(waiters, default=None),
        # Slowest caller on each instance (0 = A, 1 = B).
        "max_ms_by_instance": [max((c["ms"] for c in callers
                                    if c["instance"] == i and c["ms"] is not None), default=None)
                               for i in range(1 + max((c["instance"] for c in callers),
                                                      default=0))],
        "error_samples": [c["error"] for c in callers if c["error"]][:3],
    }


def summarize_herd(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per round and pooled over the rounds, for each of `lease` and `plain`."""
    result: dict[str, Any] = {}
    for mode in ("lease", "plain"):
        per_round = [summarize_scenario(r[mode]["callers"]) for r in rounds]
        computations = [r["computations"] for r in per_round]
        result[mode] = {
            "rounds": per_round, "computations_per_round": computations,
            "computations_max": max(computations), "computations_min": min(computations),
            **{key: sum(r[key] for r in per_round)
               for key in ("retries", "errors", "wrong_values", "puts_refused")},
            **_times([c for r in rounds for c in r[mode]["callers"]]),
        }
    return result


def lease_counters(services: tuple[ServiceProcess, ...]) -> dict[str, int]:
    """The services' lease counters (checks.cache.leases), summed."""
    total: Counter[str] = Counter()
    for service in services:
        status, body = http_json(service.base_url + "/health/detailed")
        if status != 200:
            raise BenchError(f"{service.name}: /health/detailed answered {status}")
        total.update(body["checks"]["cache"]["leases"])
    return dict(total)


def store_hit_key(services: tuple[ServiceProcess, ...], value: bytes) -> None:
    """HIT_KEY PUT through A, then a memory hit on every instance, with and
    without ?lease=1 (of two GETs, the first may fill the memory tier)."""
    wl.store(services[0].base_url, HIT_KEY, value)
    for url in (s.base_url + wl.path(HIT_KEY) + q for s in services for q in ("", "?lease=1")):
        header = [http(url)[1].get("X-Cache") for _ in range(2)][-1]
        if header != "hit-memory":
            raise BenchError(f"{url}: expected X-Cache hit-memory, got {header}")


def run_stampede(run: Run) -> dict[str, Any]:
    plan, generators = run.plan.stampede, (run.generator, run.split)
    redis = run.procs.redis("redis-stampede")
    services = ready(*(run.procs.service(f"service-stampede-{name}", wl.service_env(
        "stampede", redis.url), wait=False) for name in ("a", "b")))
    herd = result(run.procs.helper(
        "herd", *(s.base_url for s in services), "--callers", str(plan.callers),
        "--compute-ms", str(plan.compute_ms), "--rounds", str(plan.rounds)), HERD_LIMIT_S)
    counters = lease_counters(services)
    store_hit_key(services, run.value)
    a, b = services
    get = Workload("hit-plain", (Request("GET", wl.path(HIT_KEY)),))
    leased = Workload("hit-lease", (Request("GET", wl.path(HIT_KEY) + "?lease=1"),))
    hit = compare(*generators, Comparison(
        "hit_cost", "?lease=1", leased, (a, b), (b, a), "plain GET", HIT_COST_TARGET,
        baseline_workload=get, strict=True), Rounds(
        plan.hit_rounds, plan.hit_duration_s, plan.hit_rounds, 2 * plan.hit_duration_s, 0, 2))
    return {
        "callers": plan.callers, "rounds": plan.rounds, "compute_ms": plan.compute_ms,
        "instances": len(services), "client": herd["client"],
        "target_p99_ms": plan.compute_ms + TIME_TO_VALUE_SLACK_MS,
        **summarize_herd(herd["rounds"]), "server_lease_counters": counters,
        "hit_cost": {"generator": generators[0].name, "threads": generators[0].threads,
                     "connections": generators[0].connections,
                     "duration_s": plan.hit_duration_s, **hit},
    }


def _row(label: str, figures: dict[str, Any], answers: dict[str, int]) -> Figures:
    hits = answers.get("hit-memory", 0) + answers.get("hit-redis", 0)
    return row(label, str(figures["computations"]), str(answers.get("hit-fill", 0)), str(hits),
               str(figures["retries"]), str(figures["errors"]), n(figures["p50_ms"], 1),
               n(figures["p99_ms"], 1), n(figures["max_ms"], 1))


def herd_table(stampede: dict[str, Any]) -> Figures:
    rows, lease = [], stampede["lease"]
    for mode, title in (("lease", "leases"), ("plain", "no lease")):
        figures, answers = stampede[mode], Counter[str]()
        for index, done in enumerate(figures["rounds"]):
            answers.update(done["answers"])
            rows.append(_row(f"{title}, round {index + 1}", done, done["answers"]))
        total = {**figures, "computations": sum(figures["computations_per_round"])}
        rows.append(_row(f"{title}, all rounds", total, answers))
    counters = stampede["server_lease_counters"]
    return table(
        (f"stampede: {stampede['callers']} callers at once miss one fresh key, half on each of "
         f"{stampede['instances']} instances; compute {stampede['compute_ms']} ms; "
         f"{stampede['rounds']} round(s); client: {stampede['client']}; times: to value, "
         "from the start"),
        ("computed", "fill", "hit", "retries", "errors", "p50 ms", "p99 ms", "max ms"), rows, (
            (f"computations: target 1 per round with leases, {stampede['callers']} expected "
             "without; services' counters: " + ", ".join(
                 f"{name} {counters.get(name)}" for name in ("issued", "filled", "refused",
                                                             "takenOver"))),
            ("with leases, per round: last caller's GET began / holder's token / its PUT "
             "acknowledged / slowest hit-fill after that PUT (ms): " + "; ".join(
                 f"{n(r['last_asked_ms'], 1)} / {n(r['first_token_ms'], 1)} / "
                 f"{n(r['first_put_done_ms'], 1)} / +{n(r['fill_after_put_max_ms'], 1)}"
                 for r in lease["rounds"])),
            "with leases, slowest caller on instance A / B per round (ms): " + "; ".join(
                " / ".join(n(v, 1) for v in r["max_ms_by_instance"]) for r in lease["rounds"]),
            *(f"{'with' if mode == 'lease' else 'without'} leases: wrong values "
              f"{stampede[mode]['wrong_values']}, refused PUTs {stampede[mode]['puts_refused']}"
              for mode in ("lease", "plain"))))


def hit_cost_table(hit: dict[str, Any], goal: Figures) -> Figures:
    plain = [r["rps"] for r in hit["baseline"]["rounds"]]
    return table(
        (f"?lease=1 on a memory hit vs plain GET ({hit['generator']} -t{hit['threads']} "
         f"-c{hit['connections']}; {len(hit['ratio_per_round'])} rounds, {hit['duration_s']} s "
         "each alone, twice that side by side, ?lease=1 on A and plain on B, swapped each round)"),
        ("ratio", "rounds"),
        (row("side by side", f"{n(hit['ratio'], 3)}x",
             ", ".join(f"{r:.3f}" for r in hit["ratio_per_round"]), goal=goal),
         row("one after the other", f"{n(hit['ratio_one_after_the_other'], 3)}x",
             ", ".join(f"{r:.3f}" for r in hit["ratio_one_after_the_other_per_round"]))),
        ((f"alone: GET {n(hit['baseline']['rps'], 0)} req/s, ?lease=1 "
          f"{n(hit['service']['rps'], 0)} req/s (medians); CPU per request side by "
          f"side {n(hit['cpu_ratio'], 3)}x; plain GET req/s varied "
          f"{100 * (max(plain) - min(plain)) / statistics.median(plain):.0f} % "
          "between rounds"),))


def stampede_report(stampede: dict[str, Any]) -> Report:
    lease, hit = stampede["lease"], stampede["hit_cost"]
    hit_goal = target(f"GET ?lease=1 memory hit vs plain GET, side by side, median of "
                      f"{len(hit['ratio_per_round'])} rounds (within noise)", hit["ratio"],
                      HIT_COST_TARGET, "x", at_least=True)
    return [herd_table(stampede), hit_cost_table(hit, hit_goal)], [
        target(f"stampede with leases: computations per round, worst of {stampede['rounds']} "
               f"({stampede['callers']} callers on {stampede['instances']} instances)",
               lease["computations_max"], 1, "computations"),
        target("stampede with leases: errors, wrong values and refused PUTs",
               lease["errors"] + lease["wrong_values"] + lease["puts_refused"], 0, "answers"),
        target(f"stampede with leases: p99 time to value, all rounds (compute "
               f"{stampede['compute_ms']} ms + 50)", lease["p99_ms"], stampede["target_p99_ms"],
               "ms"),
        hit_goal,
    ]
