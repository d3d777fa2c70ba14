"""Stampede: N callers miss one key at once, with and without leases.

    redis-server + services A and B (one key prefix, REDIS_LAZY_CONNECT=false)
    herd.py (its own process): per round, N callers, half on each instance,
        GET ?lease=1 a fresh key; the token's holder "computes" for
        compute_ms and PUTs with the token, the others wait for hit-fill
        (or retry after Retry-After on `pending`); then the same without
        leases on another fresh key: every caller that misses computes and PUTs
    hit cost: wrk (or the Python workers) on one present key, memory hits,
        GET and GET ?lease=1 one after the other, in alternating order,
        rounds rotating over A and B; the ratio of each round's req/s

Computations are the callers that computed (with leases: that got a token);
time to value runs from the callers' release to the value in hand. The
services' own lease counters (/health/detailed) are read at the end as a
cross-check of the callers' count.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import urllib.request
from dataclasses import dataclass
from typing import Any

from scripts.benchmark import workloads as wl
from scripts.benchmark.compare import Measured, run_one
from scripts.benchmark.herd import RESULT_MARK
from scripts.benchmark.load import Generator, Request, Workload, percentile
from scripts.benchmark.outage import wait_ready
from scripts.benchmark.placement import child_setup
from scripts.benchmark.processes import (
    BenchError,
    HttpProcess,
    Processes,
    http_json,
    module_argv,
    module_env,
)

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
    done = subprocess.run(
        module_argv("herd", *(s.url for s in services), "--callers", str(plan.callers),
                    "--compute-ms", str(plan.compute_ms), "--rounds", str(plan.rounds),
                    "--key-prefix", "stampede"),
        env=module_env(), capture_output=True, text=True, timeout=HERD_LIMIT_S, check=False,
        # The bench runs no threads, so preexec_fn is safe here.
        preexec_fn=child_setup(procs.placement.others),  # noqa: PLW1509
    )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            parsed: dict[str, Any] = json.loads(line[len(RESULT_MARK):])
            return parsed
    raise BenchError(f"herd.py gave no result (exit {done.returncode}): "
                     f"{done.stderr.strip()[-800:]}")


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


def _hit_workloads() -> tuple[Workload, Workload]:
    path = wl.path(HIT_KEY)
    return (Workload("hit-plain", (Request("GET", path),)),
            Workload("hit-lease", (Request("GET", path + "?lease=1"),)))


def _expect_memory_hit(url: str) -> None:
    """Two GETs of `url` (the first may fill the memory tier from Redis): the
    second must be a memory hit."""
    for _ in range(2):
        with urllib.request.urlopen(url, timeout=2) as answer:
            header = answer.headers.get("X-Cache")
    if header != "hit-memory":
        raise BenchError(f"{url}: expected X-Cache hit-memory, got {header}")


def store_hit_key(services: tuple[HttpProcess, ...], value: bytes) -> None:
    """HIT_KEY PUT through A, then a memory hit on every instance, with and
    without ?lease=1."""
    status, _ = http_json(services[0].url + wl.path(HIT_KEY), method="PUT", body=value,
                          headers={"Content-Type": wl.CONTENT_TYPE})
    if status != 204:
        raise BenchError(f"storing {HIT_KEY} answered {status}")
    for service in services:
        for suffix in ("", "?lease=1"):
            _expect_memory_hit(service.url + wl.path(HIT_KEY) + suffix)


def _pair_figures(plain: Measured, leased: Measured) -> dict[str, float]:
    return {"plain_rps": plain.load.rps, "lease_rps": leased.load.rps,
            "plain_cpu_us": plain.cpu_us_per_request, "lease_cpu_us": leased.cpu_us_per_request,
            "ratio": leased.load.rps / plain.load.rps if plain.load.rps else 0.0,
            "cpu_ratio": plain.cpu_us_per_request / leased.cpu_us_per_request
            if leased.cpu_us_per_request else 0.0}


def _checked(measured: Measured, what: str) -> Measured:
    if measured.load.non_2xx or measured.load.socket_errors:
        raise BenchError(f"hit cost, {what}: {measured.load.non_2xx} non-2xx, "
                         f"{measured.load.socket_errors} socket errors")
    return measured


def _alone(generator: Generator, service: HttpProcess, index: int,
           duration_s: int) -> dict[str, float]:
    """GET, then GET ?lease=1 (the other way round in odd rounds), each alone."""
    plain, leased = _hit_workloads()
    order = (plain, leased) if index % 2 == 0 else (leased, plain)
    measured = {w.name: _checked(run_one(generator, service, w, duration_s),
                                 f"{w.name} on {service.name}") for w in order}
    return _pair_figures(measured[plain.name], measured[leased.name])


def _together(split: Generator, services: tuple[HttpProcess, ...], index: int,
              duration_s: int) -> dict[str, float]:
    """GET on one instance and GET ?lease=1 on the other at the same moment,
    on the one server CPU, each under half the load; swapped every round."""
    plain, leased = _hit_workloads()
    sides = ((plain, services[index % 2]), (leased, services[(index + 1) % 2]))
    cpu = {w.name: server.cpu_seconds() for w, server in sides}
    running = {w.name: split.start(server.url, w, duration_s) for w, server in sides}
    measured = {w.name: _checked(Measured(running[w.name].wait(),
                                          server.cpu_seconds() - cpu[w.name]), w.name)
                for w, server in sides}
    return _pair_figures(measured[plain.name], measured[leased.name])


def _spread(rows: list[dict[str, float]]) -> dict[str, Any]:
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
    """GET vs GET ?lease=1 of one memory-resident key, two ways per round (as
    the throughput section): one after the other on instance i mod 2 under the
    full load, and side by side on the two instances under half each."""
    generator, split = generators
    alone, together = [], []
    for index in range(plan.hit_rounds):
        alone.append(_alone(generator, services[index % 2], index, plan.hit_duration_s))
        together.append(_together(split, services, index, 2 * plan.hit_duration_s))
    return {
        "generator": generator.name, "threads": generator.threads,
        "connections": generator.connections, "duration_s": plan.hit_duration_s,
        "side_by_side": _spread(together), "one_after_the_other": _spread(alone),
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
        wait_ready(service)
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
