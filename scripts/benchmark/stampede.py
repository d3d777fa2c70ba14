"""Stampede: N callers miss one key at once, with and without leases.

    redis-server + services A and B (one key prefix, REDIS_LAZY_CONNECT=false)
    herd.py (its own process): per round, N callers, half on each instance,
        GET ?lease=1 a fresh key; the token's holder "computes" for
        compute_ms and PUTs with the token, the others wait for hit-fill
        (or retry after Retry-After on `pending`); then the same without
        leases on another fresh key: every caller that misses computes and PUTs
    hit cost: wrk (or the Python workers) on one present key, memory hits,
        GET against GET ?lease=1 as the throughput section compares (one
        after the other on instance i mod 2, in alternating order; side by
        side, one on each instance, swapped each round); the ratio of each
        round's req/s

Computations are the callers that computed (with leases: that got a token);
time to value runs from the callers' release to the value in hand. The
services' own lease counters (/health/detailed) are read at the end as a
cross-check of the callers' count.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from scripts.benchmark import workloads as wl
from scripts.benchmark.compare import Comparison, one_after_the_other, side_by_side
from scripts.benchmark.load import Generator, Request, Workload, percentile
from scripts.benchmark.processes import BenchError, HttpProcess, Processes, http, http_json

PREFIX = "bench-stampede"
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
    times = sorted(c["ms"] for c in callers if c["ms"] is not None)
    if not times:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99),
            "max_ms": times[-1]}


def summarize_scenario(callers: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and times of one scenario's callers (herd.py's outcomes)."""
    answers: dict[str, int] = {}
    for c in callers:
        answers[c["how"]] = answers.get(c["how"], 0) + 1
    puts = [c["put_done_ms"] for c in callers if c["put_done_ms"] is not None]
    first_put = min(puts, default=None)
    waiters = [c["ms"] - first_put for c in callers
               if first_put is not None and c["how"] == "hit-fill" and c["ms"] is not None]
    computing = [c for c in callers if c["how"] == "computed"]
    return {
        "callers": len(callers),
        "computations": answers.get("computed", 0),
        "answers": answers,
        "retries": sum(c["retries"] for c in callers),
        "errors": answers.get("error", 0),
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
        pooled = [c for r in rounds for c in r[mode]["callers"]]
        computations = [r["computations"] for r in per_round]
        result[mode] = {
            "rounds": per_round,
            "computations_per_round": computations,
            "computations_max": max(computations),
            "computations_min": min(computations),
            "retries": sum(r["retries"] for r in per_round),
            "errors": sum(r["errors"] for r in per_round),
            "wrong_values": sum(r["wrong_values"] for r in per_round),
            "puts_refused": sum(r["puts_refused"] for r in per_round),
            **_times(pooled),
        }
    return result


def run_herd(procs: Processes, services: tuple[HttpProcess, ...],
             plan: StampedePlan) -> dict[str, Any]:
    """herd.py beside redis-server (the CPUs of the generators); its outcomes."""
    return procs.helper("herd", "herd", *(s.url for s in services), "--callers",
                        str(plan.callers), "--compute-ms", str(plan.compute_ms), "--rounds",
                        str(plan.rounds), "--key-prefix", "stampede").result(HERD_LIMIT_S)


def lease_counters(services: tuple[HttpProcess, ...]) -> dict[str, int]:
    """The services' lease counters (checks.cache.leases), summed."""
    total: dict[str, int] = {}
    for service in services:
        status, body = http_json(service.url + "/health/detailed")
        if status != 200:
            raise BenchError(f"{service.name}: /health/detailed answered {status}")
        for name, value in body["checks"]["cache"]["leases"].items():
            total[name] = total.get(name, 0) + value
    return total


def store_hit_key(services: tuple[HttpProcess, ...], value: bytes) -> None:
    """HIT_KEY PUT through A, then a memory hit on every instance, with and
    without ?lease=1 (of two GETs, the first may fill the memory tier)."""
    status, _ = http_json(services[0].url + wl.path(HIT_KEY), method="PUT", body=value,
                          headers={"Content-Type": wl.CONTENT_TYPE})
    if status != 204:
        raise BenchError(f"storing {HIT_KEY} answered {status}")
    for url in (s.url + wl.path(HIT_KEY) + q for s in services for q in ("", "?lease=1")):
        header = [http(url)[1].get("X-Cache") for _ in range(2)][-1]
        if header != "hit-memory":
            raise BenchError(f"{url}: expected X-Cache hit-memory, got {header}")


def _spread(plain: list[dict[str, float]], lease: list[dict[str, float]]) -> dict[str, Any]:
    """Per-round and median figures of one way of comparing; `plain` and
    `lease` have each round's rps and cpu_us_per_request."""
    rows = [{"plain_rps": p["rps"], "lease_rps": q["rps"],
             "plain_cpu_us": p["cpu_us_per_request"], "lease_cpu_us": q["cpu_us_per_request"],
             "ratio": q["rps"] / p["rps"] if p["rps"] else 0.0,
             "cpu_ratio": p["cpu_us_per_request"] / q["cpu_us_per_request"]
             if q["cpu_us_per_request"] else 0.0} for p, q in zip(plain, lease, strict=True)]
    ratios = [r["ratio"] for r in rows]
    plain_rps = [r["plain_rps"] for r in rows]
    median_plain = statistics.median(plain_rps)
    return {
        "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
        "cpu_ratio": statistics.median(r["cpu_ratio"] for r in rows),
        "plain_rps": median_plain, "lease_rps": statistics.median(r["lease_rps"] for r in rows),
        # plain GET req/s from round to round: the noise the ratio sits in.
        "plain_rps_spread": (max(plain_rps) - min(plain_rps)) / median_plain
        if median_plain else 0.0,
        "rounds": rows,
    }


def hit_cost(generators: tuple[Generator, Generator], services: tuple[HttpProcess, ...],
             plan: StampedePlan) -> dict[str, Any]:
    """GET vs GET ?lease=1 of one memory-resident key, two ways (compare.py):
    one after the other on instance i mod 2 under the full load, and side by
    side, one on each instance (swapped each round), under half each."""
    generator, split = generators
    a, b = services[:2]
    plain = Workload("hit-plain", (Request("GET", wl.path(HIT_KEY)),))
    leased = Workload("hit-lease", (Request("GET", wl.path(HIT_KEY) + "?lease=1"),))

    def comparison(lease_on: tuple[HttpProcess, ...]) -> Comparison:
        return Comparison("hit_cost", "?lease=1", leased, lease_on, (a, b), "plain GET",
                          HIT_COST_TARGET, baseline_workload=plain, strict=True)

    alone = one_after_the_other(generator, comparison((a, b)), plan.hit_rounds,
                                plan.hit_duration_s)
    rows = {side: [{"rps": m.load.rps, "cpu_us_per_request": m.cpu_us_per_request}
                   for m in measured] for side, measured in alone.items()}
    together = side_by_side(split, comparison((b, a)), plan.hit_rounds,
                            2 * plan.hit_duration_s)["rounds"]
    return {
        "generator": generator.name, "threads": generator.threads,
        "connections": generator.connections, "duration_s": plan.hit_duration_s,
        "side_by_side": _spread(together["baseline"], together["service"]),
        "one_after_the_other": _spread(rows["baseline"], rows["service"]),
        "target_ratio": HIT_COST_TARGET,
    }


def run_stampede(procs: Processes, generators: tuple[Generator, Generator], plan: StampedePlan,
                 value: bytes) -> dict[str, Any]:
    redis = procs.redis("redis-stampede")
    env = {"REDIS_URL": redis.url, "REDIS_LAZY_CONNECT": "false", "CACHE_KEY_PREFIX": PREFIX}
    services = tuple(procs.service(f"service-stampede-{name}", env, wait=False)
                     for name in ("a", "b"))
    for service in services:
        service.wait_answering()
        service.wait_ready()
    herd = run_herd(procs, services, plan)
    counters = lease_counters(services)
    store_hit_key(services, value)
    return {
        "callers": plan.callers, "rounds": plan.rounds, "compute_ms": plan.compute_ms,
        "instances": len(services), "client": herd["client"],
        "target_p99_ms": plan.compute_ms + TIME_TO_VALUE_SLACK_MS,
        **summarize_herd(herd["rounds"]),
        "server_lease_counters": counters,
        "hit_cost": hit_cost(generators, services, plan),
    }
