"""What an outage costs under steady load: Redis killed, or hung (SIGSTOP).

One round, with the outage mix running throughout (3 memory-hit GETs : 1 PUT):

    failure phase   lead_s of healthy load, then kill/SIGSTOP Redis, load on
    outage phase    Redis still down, the link long since detected it
    recovery phase  back_after_s in, Redis is restarted on its port / SIGCONT

Detection and recovery are read afterwards from /health/events (the
service's CLOCK_MONOTONIC is the bench's), so nothing polls under load.
Method: docs/performance.md, "A Redis outage under load".
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scripts.benchmark import workloads as wl
from scripts.benchmark.load import Generator, LoadResult, Workload
from scripts.benchmark.processes import http_json
from scripts.benchmark.report import Report, n, row, spread, table, target
from scripts.harness.redis_server import RedisServer
from scripts.harness.service_process import ServiceProcess

if TYPE_CHECKING:
    from scripts.benchmark.sections import Run

PHASES = ("failure", "outage", "recovery")
# Slack the targets allow: outage p99 over the memory-only p99, a hung request
# over the command timeout, recovery over the pending backoff step.
P99_SLACK_MS, HANG_SLACK_MS, RECOVERY_SLACK_MS = 2.0, 50.0, 500.0
# REDIS_COMMAND_TIMEOUT_MS=250 is the default, named for the targets.
OUTAGE_LINK_ENV = {
    "REDIS_LAZY_CONNECT": "false", "REDIS_COMMAND_TIMEOUT_MS": "250",
    "REDIS_HEALTH_CHECK_INTERVAL_MS": "250", "REDIS_BACKOFF_BASE_MS": "100",
    "REDIS_BACKOFF_MAX_MS": "1000", "REDIS_CONNECT_TIMEOUT_MS": "1000",
}


@dataclass(frozen=True)
class OutagePlan:
    lead_s: float
    failure_s: int
    outage_s: int
    recovery_s: int
    back_after_s: float


def load_around(generator: Generator, service: ServiceProcess, workload: Workload,
                duration_s: int, after_s: float, action: Callable[[], object]) -> tuple[LoadResult, float]:
    """Run the load, call `action()` `after_s` into it; (result, monotonic of action)."""
    running = generator.start(service.base_url, workload, duration_s, statuses=True)
    try:
        time.sleep(after_s)
        at = time.monotonic()
        action()
        return running.wait(), at
    finally:
        running.stop()


def outage_round(generator: Generator, service: ServiceProcess, redis: RedisServer, kind: str,
                 plan: OutagePlan, workload: Workload, value: bytes) -> dict[str, Any]:
    service.wait_ready()
    # The hot keys in memory, as in the memory-only reference: the last
    # round's Redis came back empty and the reconnect emptied the memory tier,
    # so its GETs were all 404s, answered by the handler, not the front door.
    wl.seed_hot_keys(service.base_url, value)
    failure, failed_at = load_around(generator, service, workload, plan.failure_s, plan.lead_s,
                                     redis.kill if kind == "kill" else redis.pause)
    outage_started = time.monotonic()
    outage = generator.start(service.base_url, workload, plan.outage_s, statuses=True).wait()
    # Killed: started on the same port, an empty data set (the memory tier carries on).
    recovery, back_at = load_around(generator, service, workload, plan.recovery_s,
                                    plan.back_after_s, redis.start if kind == "kill" else redis.resume)
    service.wait_ready()
    timings = link_timings(http_json(service.base_url + "/health/events?limit=1000")[1]["events"],
                           failed_at, back_at)
    detected = timings["detection_ms"]
    timings["detected_before_outage_phase"] = (
        detected is not None and failed_at + detected / 1000 <= outage_started)
    return {**timings, "phases": {name: {
        "requests": r.requests, "rps": r.rps, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms,
        "max_ms": r.max_ms, "not_found": r.not_found or 0, "bad": r.bad,
    } for name, r in zip(PHASES, (failure, outage, recovery), strict=True)}}


def link_timings(events: list[dict[str, Any]], failed_at: float, back_at: float) -> dict[str, Any]:
    """Detection, recovery and the backoff step pending at recovery, in ms."""
    left = next((e for e in events if e["from"] == "ready" and e["to"] != "ready"
                 and e["monotonic"] >= failed_at), None)
    connected = next((e for e in events if e["type"] == "Connected"
                      and e["monotonic"] >= back_at), None)
    waits = [e for e in events if connected is not None and e["type"] in ("BackoffScheduled", "GaveUp")
             and e["monotonic"] < connected["monotonic"]]
    return {
        "detection_ms": None if left is None else 1000 * (left["monotonic"] - failed_at),
        "recovery_ms": None if connected is None else 1000 * (connected["monotonic"] - back_at),
        "pending_backoff_ms": 1000 * waits[-1].get("delay_s", waits[-1].get("probe_in_s", 0.0))
        if waits else None,
    }


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    phases = {}
    for name in PHASES:
        figures = [r["phases"][name] for r in rounds]
        phases[name] = {
            **{key: statistics.median(f[key] for f in figures) for key in ("p50_ms", "p99_ms")},
            "max_ms": max(f["max_ms"] for f in figures),
            **{key: sum(f[key] for f in figures) for key in ("requests", "not_found", "bad")},
        }
    return {**{key: spread((r[key] for r in rounds), "ms")["median_ms"] for key in (
        "detection_ms", "recovery_ms", "pending_backoff_ms")}, "phases": phases, "rounds": rounds}


def run_outage(run: Run) -> dict[str, Any]:
    procs, plan, rounds, value = run.procs, run.plan.outage, run.plan.outage_rounds, run.value
    redis = procs.redis("redis-outage")
    service = procs.service("service-outage", wl.service_env("service-outage", redis.url,
                                                             **OUTAGE_LINK_ENV))
    service.wait_ready()
    mix = wl.outage_mix(value)
    results = {kind: summarize([outage_round(run.generator, service, redis, kind, plan, mix, value)
                                for _ in range(rounds)]) for kind in ("kill", "pause")}
    # What the same mix costs when Redis plays no part at all: the floor an
    # outage, once detected, is held to (its PUTs cost more than memory hits).
    memory_only = procs.service("service-memory-only", {"REDIS_URL": ""})
    wl.seed_hot_keys(memory_only.base_url, value)
    reference = [run.generator.start(memory_only.base_url, mix, plan.outage_s).wait()
                 for _ in range(rounds)]
    return {
        "workload": "3 memory-hit GETs : 1 PUT",
        "link": {"env": OUTAGE_LINK_ENV,
                 "command_timeout_ms": int(OUTAGE_LINK_ENV["REDIS_COMMAND_TIMEOUT_MS"]),
                 "health_check_interval_ms": int(OUTAGE_LINK_ENV["REDIS_HEALTH_CHECK_INTERVAL_MS"])},
        "plan": {"lead_s": plan.lead_s, "back_after_s": plan.back_after_s},
        "phase_s": {"failure": plan.failure_s, "outage": plan.outage_s, "recovery": plan.recovery_s},
        "memory_only_mix": {"p50_ms": statistics.median(r.p50_ms for r in reference),
                            "p99_ms": statistics.median(r.p99_ms for r in reference),
                            "rounds": len(reference)},
        **results,
    }


def outage_report(outage: dict[str, Any]) -> Report:
    link, reference = outage["link"], outage["memory_only_mix"]
    rows, notes, goals = [], [], []
    for kind in ("kill", "pause"):
        scenario = outage[kind]
        rounds, phases = scenario["rounds"], scenario["phases"]
        for name, phase in phases.items():
            rps = phase["requests"] / max(1, len(rounds)) / outage["phase_s"][name]
            rows.append(row(f"{kind} {name}", n(rps, 0), n(phase["p50_ms"]), n(phase["p99_ms"]),
                            n(phase["max_ms"], 1), str(phase["not_found"]), str(phase["bad"])))
        notes.append(f"{kind}: detection {n(scenario['detection_ms'], 1)} ms, recovery "
                     f"{n(scenario['recovery_ms'], 0)} ms (pending backoff "
                     f"{n(scenario['pending_backoff_ms'], 0)} ms), medians")
        excess = (None if r["recovery_ms"] is None else r["recovery_ms"]
                  - (r["pending_backoff_ms"] or 0) for r in rounds)
        goals += [
            target(f"{kind}: non-2xx/404 answers and socket errors",
                   sum(phase["bad"] for phase in phases.values()), 0, "answers"),
            target(f"{kind}: worst detection", spread((r["detection_ms"] for r in rounds), "ms")[
                "max_ms"], link["command_timeout_ms"] + link["health_check_interval_ms"], "ms"),
            target(f"{kind}: worst recovery beyond the pending backoff step",
                   spread(excess, "ms")["max_ms"], RECOVERY_SLACK_MS, "ms"),
            target(f"{kind}: p99 once detected (same mix memory-only p99 "
                   f"{reference['p99_ms']:.2f} ms + {P99_SLACK_MS:.0f})", phases["outage"]["p99_ms"],
                   reference["p99_ms"] + P99_SLACK_MS, "ms"),
        ]
    hung = max(outage["pause"]["phases"][name]["max_ms"] for name in ("failure", "outage"))
    goals.append(target("pause: slowest request while hung", hung,
                        link["command_timeout_ms"] + HANG_SLACK_MS, "ms"))
    return [table(f"outage under load ({outage['workload']}), by phase; link: " + ", ".join(
        f"{name}={value}" for name, value in link["env"].items()),
        ("req/s", "p50 ms", "p99 ms", "max ms", "404", "bad"), rows,
        [*notes, f"same mix, memory only (no Redis at all): p50 {n(reference['p50_ms'])} ms, "
                 f"p99 {n(reference['p99_ms'])} ms"])], goals
