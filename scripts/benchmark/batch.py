"""Batch: keys per second through `_mget` of 100 keys, against this
service's single-key GETs and Webdis's `/MGET/` of the same keys.

    redis-server; the service twice on it (one key prefix): default memory
    tier (memory hits), and CACHE_LRU_MAX_ITEMS=0 (every key a Redis hit);
    Webdis (Debian package `webdis`: C, one thread here, pinned to the
    servers' CPU like the service) on the same redis-server
    seed: one `_mset` of 100 keys of 64 bytes
    per round, one after the other, in an order rotated each round:
        POST _mget of the 100 keys, memory hits      keys/s = req/s x 100
        POST _mget of the 100 keys, Redis hits       keys/s = req/s x 100
        GET /MGET/<the 100 Redis keys> on Webdis     keys/s = req/s x 100
        GET of one key at a time, memory hits        keys/s = req/s
        GET of one key at a time, Redis hits         keys/s = req/s

Webdis answers the stored strings as Redis holds them (the service's stored
format: a 26-byte header and the content type before the 64 bytes), as
JSON: it reads what the service reads. Figures are medians over the rounds.
"""

from __future__ import annotations

import json
import shutil
import statistics
from typing import Any

from scripts.benchmark import workloads as wl
from scripts.benchmark.compare import Measured, run_one
from scripts.benchmark.load import Generator, Request, Workload
from scripts.benchmark.processes import BenchError, HttpProcess, Processes, http_json, ready
from scripts.benchmark.report import target

PREFIX = "bench-batch"
KEYS = 100
VALUE_BYTES = 64
# The targets: _mget keys/s over Webdis MGET keys/s, and over single GETs' req/s.
TARGETS = {"memory_vs_webdis": 0.8, "redis_vs_webdis": 0.5,
           "memory_vs_single": 15.0, "redis_vs_single": 10.0}


def _keys() -> list[str]:
    return [f"b{i:03d}" for i in range(KEYS)]


def _workloads() -> dict[str, Workload]:
    body = json.dumps({"keys": _keys()}).encode()
    mget = Workload("mget", (Request("POST", "/cache/default/_mget", body, "application/json"),))
    webdis = "/MGET/" + "/".join(f"{PREFIX}:default:{key}" for key in _keys())
    return {
        "mget": mget,
        "webdis": Workload("webdis-mget", (Request("GET", webdis),)),
        "single": Workload("single-get", tuple(Request("GET", f"/cache/default/{key}")
                                               for key in _keys())),
    }


def start_webdis(procs: Processes, redis_port: int) -> HttpProcess:
    binary = shutil.which("webdis")
    if binary is None:
        raise BenchError("webdis is not installed (Debian: apt-get install webdis)")
    config = procs.run_dir / "webdis.json"
    webdis = HttpProcess("webdis", [binary, str(config)], procs.run_dir / "webdis.out",
                         "/PING", cpus=procs.placement.servers)
    config.write_text(json.dumps({
        "redis_host": "127.0.0.1", "redis_port": redis_port, "http_host": "127.0.0.1",
        "http_port": webdis.port, "threads": 1, "pool_size": 10, "daemonize": False,
        "database": 0, "verbosity": 1, "logfile": str(procs.run_dir / "webdis.log"),
    }))
    return procs.launch(webdis)


def _seed(service: HttpProcess) -> None:
    entries = {key: {"value": "x" * VALUE_BYTES, "contentType": "text/plain"} for key in _keys()}
    status, body = http_json(service.url + "/cache/default/_mset", {"entries": entries})
    if status != 200 or set(body["stored"].values()) != {"redis"}:
        raise BenchError(f"seeding the batch keys answered {status}: {body}")


def _check_sources(service: HttpProcess, source: str) -> None:
    status, body = http_json(service.url + "/cache/default/_mget", {"keys": _keys()})
    sources = {hit["source"] for hit in body.get("hits", {}).values()}
    if status != 200 or len(body["hits"]) != KEYS or sources != {source}:
        raise BenchError(f"{service.name}: _mget expected {KEYS} {source} hits, got "
                         f"{status} {sources} {len(body.get('hits', {}))}")


def run_batch(procs: Processes, generator: Generator, rounds: int,
              duration_s: int) -> dict[str, Any]:
    redis = procs.redis("redis-batch")
    env = wl.service_env("batch", redis.url)
    memory, redis_only = ready(procs.service("service-batch-memory", env, wait=False),
                               procs.service("service-batch-redis", {
                                   **env, "CACHE_LRU_MAX_ITEMS": "0"}, wait=False))
    webdis = start_webdis(procs, redis.port)
    _seed(memory)
    _check_sources(memory, "memory")
    _check_sources(redis_only, "redis")
    work = _workloads()
    cases = {
        "mget_memory": (memory, work["mget"], KEYS),
        "mget_redis": (redis_only, work["mget"], KEYS),
        "webdis_mget": (webdis, work["webdis"], KEYS),
        "single_memory": (memory, work["single"], 1),
        "single_redis": (redis_only, work["single"], 1),
    }
    names = list(cases)
    runs: dict[str, list[Measured]] = {name: [] for name in names}
    for index in range(rounds):
        for name in names[index % len(names):] + names[:index % len(names)]:
            server, workload, _ = cases[name]
            if server is not webdis:  # a link dropped by the last run is back first
                server.wait_ready()
            runs[name].append(run_one(generator, server, workload, duration_s, strict=True))
    figures: dict[str, Any] = {}
    for name, (_, _, keys) in cases.items():
        figures[name] = {
            "keys_per_s": statistics.median(m.load.rps * keys for m in runs[name]),
            "rps": statistics.median(m.load.rps for m in runs[name]),
            "p99_ms": statistics.median(m.load.p99_ms for m in runs[name]),
            "cpu_us_per_request": statistics.median(m.cpu_us_per_request for m in runs[name]),
        }
    keys_s = {name: figures[name]["keys_per_s"] for name in names}
    ratios = {
        "memory_vs_webdis": keys_s["mget_memory"] / keys_s["webdis_mget"],
        "redis_vs_webdis": keys_s["mget_redis"] / keys_s["webdis_mget"],
        "memory_vs_single": keys_s["mget_memory"] / keys_s["single_memory"],
        "redis_vs_single": keys_s["mget_redis"] / keys_s["single_redis"],
    }
    return {"keys": KEYS, "value_bytes": VALUE_BYTES, "rounds": rounds, "duration_s": duration_s,
            "generator": generator.name, **figures, "ratios": ratios, "targets": TARGETS}


TITLES = {
    "memory_vs_webdis": "_mget of 100 memory hits vs Webdis MGET (keys/s)",
    "redis_vs_webdis": "_mget of 100 Redis hits vs Webdis MGET (keys/s)",
    "memory_vs_single": "_mget of 100 memory hits vs single memory-hit GETs (keys/s)",
    "redis_vs_single": "_mget of 100 Redis hits vs single Redis-hit GETs (keys/s)",
}


def batch_lines(figures: dict[str, Any]) -> list[str]:
    lines = ["", f"batch: {figures['keys']} keys of {figures['value_bytes']} bytes, "
                 f"{figures['rounds']} round(s) of {figures['duration_s']} s each, medians"]
    for name in ("mget_memory", "mget_redis", "webdis_mget", "single_memory", "single_redis"):
        row = figures[name]
        lines.append(f"  {name:<14} {row['keys_per_s']:>11,.0f} keys/s  {row['rps']:>9,.0f} req/s"
                     f"  p99 {row['p99_ms']:.1f} ms  {row['cpu_us_per_request']:.0f} us CPU/req")
    return lines


def batch_targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    return [target(TITLES[name], figures["ratios"][name], limit, "x", at_least=True)
            for name, limit in TARGETS.items()]
