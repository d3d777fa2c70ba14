"""Throughput and the hot path: the service against bare aiohttp handlers
(baselines.py) and Webdis, all on one redis-server; and the batch and
workers sections, which start the same kinds of servers.

Webdis reads plain copies of the values under `webdis:`: its JSON ends a
string at the first NUL byte, and the service's stored format has NULs.
Method: docs/performance.md, "Throughput against bare handlers", "Batch:
`_mget` against single GETs and Webdis" and "Workers and uvloop".
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from scripts.benchmark import workloads as wl
from scripts.benchmark.compare import (
    Comparison,
    Measured,
    compare,
    medians,
    one_after_the_other,
    per_round,
    rotated,
    run_one,
    summarize,
)
from scripts.benchmark.load import Request, Workload
from scripts.benchmark.processes import BenchError, Placement, Processes, http_json, installed, ready
from scripts.benchmark.report import (
    SIDE_COLUMNS,
    Figures,
    Report,
    comparison_table,
    n,
    row,
    side,
    span,
    table,
    target,
)
from scripts.harness.ports import free_port
from scripts.harness.redis_server import RedisServer
from scripts.harness.service_process import HttpProcess, ServiceProcess, http

if TYPE_CHECKING:
    from scripts.benchmark.sections import Run

KEYS = [f"b{i:03d}" for i in range(100)]
VALUE_BYTES = 64
# The batch targets: _mget keys/s over Webdis MGET keys/s, and over single GETs' req/s.
TARGETS = {"memory_vs_webdis": 0.8, "redis_vs_webdis": 0.3,
           "memory_vs_single": 15.0, "redis_vs_single": 10.0}
MGET = Workload("mget", (Request("POST", wl.path("_mget"), json.dumps({"keys": KEYS}).encode(),
                                 wl.CONTENT_TYPE),))
SINGLE = Workload("single-get", tuple(Request("GET", wl.path(key)) for key in KEYS))
WEBDIS_MGET = Workload("webdis-mget", (Request("GET", "/MGET/" + "/".join(
    f"webdis:{key}" for key in KEYS)),))
WEBDIS_GET = Workload("webdis-get", tuple(Request("GET", f"/GET/webdis:hot{i}")
                                          for i in range(wl.HOT_KEYS)))
# key: title, goal (the side-by-side ratio); in the hot path table's order.
HOT_PATH = {
    "memory_hit_get": ("memory-hit GET vs bare aiohttp handler returning fixed bytes", 0.95),
    "redis_hit_get": ("Redis-hit GET vs aiohttp + one redis-py GET per request", 1.6),
    "memory_hit_vs_webdis": ("memory-hit GET vs Webdis GET", 0.45),
    "redis_hit_vs_webdis": ("Redis-hit GET vs Webdis GET", 0.30),
    "mget_memory_vs_webdis": ("_mget of 100 memory hits vs Webdis MGET of 100, keys/s", 0.8),
    "mget_redis_vs_webdis": ("_mget of 100 Redis hits vs Webdis MGET of 100, keys/s", 0.3),
}
PUT_TARGET = 1.5
WORKER_COUNTS = (1, 2)
WARM_PASSES = 50


def start_webdis(procs: Processes, redis: RedisServer, value: bytes) -> HttpProcess:
    """Webdis on `redis`, the plain copies stored: the hot keys holding `value`,
    the batch keys their 64 bytes; checked to answer them whole."""
    with redis.client() as client:
        client.mset({**{f"webdis:hot{i}": value for i in range(wl.HOT_KEYS)},
                     **{f"webdis:{key}": "x" * VALUE_BYTES for key in KEYS}})
    binary = installed("webdis")
    config, port = procs.run_dir / "webdis.json", free_port()
    config.write_text(json.dumps({
        "redis_host": "127.0.0.1", "redis_port": redis.port, "http_host": "127.0.0.1",
        "http_port": port, "threads": 1, "pool_size": 10, "daemonize": False,
        "database": 0, "verbosity": 1, "logfile": str(procs.run_dir / "webdis-server.log"),
    }))
    webdis = procs.http_server("webdis", [binary, str(config)], "/PING", port)
    status, _, body = http(webdis.base_url + WEBDIS_GET.requests[0].path)
    if status != 200 or json.loads(body)["GET"].encode() != value:
        raise BenchError(f"Webdis GET answered {status} {body[:80]!r}")
    return webdis


def seed_batch(services: tuple[ServiceProcess, ...], source: str) -> None:
    """The batch keys stored by one `_mset` through the first service (one key
    prefix for all), read once by single GETs on each (so memory tiers hold
    them), then an `_mget` on each must answer every key from `source`."""
    entries = {key: {"value": "x" * VALUE_BYTES, "contentType": "text/plain"} for key in KEYS}
    status, body = http_json(services[0].base_url + wl.path("_mset"), {"entries": entries})
    if status != 200 or set(body["stored"].values()) != {"redis"}:
        raise BenchError(f"seeding the batch keys answered {status}: {body}")
    for service in services:
        for key in KEYS:
            http(service.base_url + wl.path(key))
        status, body = http_json(service.base_url + wl.path("_mget"), {"keys": KEYS})
        sources = {hit["source"] for hit in (body or {}).get("hits", {}).values()}
        if status != 200 or len(body["hits"]) != len(KEYS) or sources != {source}:
            raise BenchError(f"{service.name}: _mget expected {len(KEYS)} {source} hits, got "
                             f"{status} {sources} {len(body.get('hits', {}))}")


def run_throughput(run: Run) -> dict[str, Any]:
    procs, plan, value = run.procs, run.plan.throughput, run.value
    redis = procs.redis("redis")
    # Every baseline is started at once (each takes most of a second to
    # import), then waited for; `instances` of each kind (see Comparison).
    bare, bare_get, bare_set = (tuple(procs.baseline(
        f"baseline-{mode}-{i}", mode, *args, wait=False) for i in range(plan.instances))
        for mode, args in (("bytes", ("--value-file", str(run.value_file))),
                           ("redis-get", ("--redis-url", redis.url)),
                           ("redis-set", ("--redis-url", redis.url))))
    memory, redis_only = wl.hot_services(procs, "service", redis.url, plan.instances, value)
    webdis = (start_webdis(procs, redis, value),)
    for server in (*bare, *bare_get, *bare_set):
        server.wait_answering()
    wl.seed_hot_keys(bare_set[0].base_url, value)
    seed_batch(memory, "memory")
    seed_batch(redis_only, "redis")
    hot, side = wl.hot_get(), {"strict": True, "alone": False}
    comparisons = (
        Comparison("memory_hit_get", "GET memory hit", hot, memory, bare,
                   "bare aiohttp handler returning the same bytes", HOT_PATH["memory_hit_get"][1]),
        Comparison("redis_hit_get", "GET Redis hit", hot, redis_only, bare_get,
                   "bare aiohttp handler, one redis-py GET per request", HOT_PATH["redis_hit_get"][1]),
        Comparison("put", "PUT", wl.put(value), memory, bare_set,
                   "bare aiohttp handler, one redis-py SET per request", PUT_TARGET),
        Comparison("memory_hit_vs_webdis", "GET memory hit", hot, memory, webdis, "Webdis GET",
                   HOT_PATH["memory_hit_vs_webdis"][1], WEBDIS_GET, **side),
        Comparison("redis_hit_vs_webdis", "GET Redis hit", hot, redis_only, webdis, "Webdis GET",
                   HOT_PATH["redis_hit_vs_webdis"][1], WEBDIS_GET, **side),
        Comparison("mget_memory_vs_webdis", "_mget memory", MGET, memory, webdis, "Webdis MGET",
                   HOT_PATH["mget_memory_vs_webdis"][1], WEBDIS_MGET, **side),
        Comparison("mget_redis_vs_webdis", "_mget Redis", MGET, redis_only, webdis, "Webdis MGET",
                   HOT_PATH["mget_redis_vs_webdis"][1], WEBDIS_MGET, **side),
    )
    return {c.key: compare(run.generator, run.split, c, plan) for c in comparisons}


def throughput_report(throughput: dict[str, Any]) -> Report:
    goals = {key: target(title, throughput[key]["ratio"], goal, "x", at_least=True)
             for key, (title, goal) in HOT_PATH.items()}
    hot_path = [row(goal["name"], f"{n(f['ratio'])}x", span(f["ratio_per_round"]),
                    f"{n(f['cpu_ratio'])}x", goal=goal)
                for goal, f in ((goals[key], throughput[key]) for key in HOT_PATH)]
    put = target("PUT vs bare aiohttp + one redis-py SET per request", throughput["put"]["ratio"],
                 PUT_TARGET, "x", at_least=True)
    return [comparison_table("throughput", (f for f in throughput.values() if "service" in f)),
            table("hot path, side by side on one CPU, one redis-server; median ratio, its "
                  "rounds min-max, CPU per request ratio", ("ratio", "rounds", "CPU"), hot_path)
            ], [*goals.values(), put]


def run_batch(run: Run) -> dict[str, Any]:
    procs, rounds, duration_s = run.procs, run.plan.throughput.rounds, run.plan.throughput.duration_s
    redis = procs.redis("redis-batch")
    env = wl.service_env("batch", redis.url)
    memory, redis_only = ready(procs.service("service-batch-memory", env, wait=False),
                               procs.service("service-batch-redis", {
                                   **env, "CACHE_LRU_MAX_ITEMS": "0"}, wait=False))
    webdis = start_webdis(procs, redis, wl.make_value(VALUE_BYTES))
    seed_batch((memory,), "memory")
    seed_batch((redis_only,), "redis")
    cases = {"mget_memory": (memory, MGET, len(KEYS)), "mget_redis": (redis_only, MGET, len(KEYS)),
             "webdis_mget": (webdis, WEBDIS_MGET, len(KEYS)),
             "single_memory": (memory, SINGLE, 1), "single_redis": (redis_only, SINGLE, 1)}
    runs: dict[str, list[Measured]] = {name: [] for name in cases}
    for index in range(rounds):
        for name in rotated(list(cases), index):
            server, workload, _ = cases[name]
            if isinstance(server, ServiceProcess):  # a link dropped by the last run is back first
                server.wait_ready()
            runs[name].append(run_one(run.generator, server, workload, duration_s, strict=True))
    figures = {name: medians([{"keys_per_s": m.load.rps * keys, "rps": m.load.rps,
                               "p99_ms": m.load.p99_ms,
                               "cpu_us_per_request": m.cpu_us_per_request} for m in runs[name]])
               for name, (_, _, keys) in cases.items()}
    keys_s = {name: f["keys_per_s"] for name, f in figures.items()}
    ratios = {f"{tier}_vs_{other}": keys_s[f"mget_{tier}"] / keys_s[
        "webdis_mget" if other == "webdis" else f"single_{tier}"]
        for tier in ("memory", "redis") for other in ("webdis", "single")}
    return {"keys": len(KEYS), "value_bytes": VALUE_BYTES, "rounds": rounds,
            "duration_s": duration_s, "generator": run.generator.name, **figures,
            "ratios": ratios, "targets": TARGETS}


def batch_report(figures: dict[str, Any]) -> Report:
    names = ("mget_memory", "mget_redis", "webdis_mget", "single_memory", "single_redis")
    return [table(f"batch: {figures['keys']} keys of {figures['value_bytes']} bytes, "
                  f"{figures['rounds']} round(s) of {figures['duration_s']} s each, one after "
                  "the other, medians", ("keys/s", "req/s", "p99 ms", "CPU us/req"),
                  (row(name, n(figures[name]["keys_per_s"], 0), n(figures[name]["rps"], 0),
                       n(figures[name]["p99_ms"], 1), n(figures[name]["cpu_us_per_request"], 0))
                   for name in names))], [
        target(f"_mget of 100 {name.split('_')[0]} hits vs "
               f"{'Webdis MGET' if name.endswith('webdis') else 'single GETs'} (keys/s, "
               "one after the other)", figures["ratios"][name], limit, "x", at_least=True)
        for name, limit in TARGETS.items()]


def run_workers(run: Run) -> dict[str, Any]:
    procs, plan = run.procs, run.plan.throughput
    redis = procs.redis("redis-workers")
    loops = {loop: wl.hot_services(procs, f"loop-{loop}", redis.url, plan.instances, run.value,
                                   EVENT_LOOP=loop) for loop in ("uvloop", "asyncio")}
    event_loop = {key: compare(run.generator, run.split, Comparison(
        key, title, wl.hot_get(), loops["uvloop"][kind], loops["asyncio"][kind],
        "the same service on asyncio's loop", 1.0), plan)
        for kind, key, title in ((0, "memory_hit_get", "GET memory hit"),
                                 (1, "redis_hit_get", "GET Redis hit"))}

    def worker_count(unpinned: Processes, key: str, hit: str, env: dict[str, str]) -> Figures:
        one, two = (unpinned.service(f"{key}-workers-{count}", wl.service_env(
            f"workers-{key}", redis.url, WORKERS=str(count), **env)) for count in WORKER_COUNTS)
        for server in (one, two):
            server.wait_ready(healthy=True)
        wl.seed_hot_keys(one.base_url, run.value)
        for server in (one, two):
            wl.warm(server, hit, WARM_PASSES)
        measured = one_after_the_other(run.generator, Comparison(
            key, key, wl.hot_get(), (one,), (two,), "WORKERS=2", 1.0), plan.rounds, plan.duration_s)
        return {"workers_1": summarize(measured["service"]),
                "workers_2": summarize(measured["baseline"]),
                **per_round("scaling", (m.load.rps for m in measured["baseline"]),
                            (m.load.rps for m in measured["service"]))}

    workers = procs.in_group("workers", lambda unpinned: {
        "memory_hit_get": worker_count(unpinned, "memory_hit_get", "hit-memory", {}),
        "redis_hit_get": worker_count(unpinned, "redis_hit_get", "hit-redis",
                                      {"CACHE_LRU_MAX_ITEMS": "0"}),
    }, Placement(servers=None, others=procs.placement.others))
    return {"event_loop": event_loop, "workers": workers}


def workers_report(figures: dict[str, Any]) -> Report:
    return [comparison_table("event loop", figures["event_loop"].values()), table(
        "workers: WORKERS=1 alone, then WORKERS=2 (w2) alone; 2 / 1 and its rounds min-max",
        (*SIDE_COLUMNS, *(f"w2 {c}" for c in SIDE_COLUMNS), "2 / 1", "rounds"),
        (row(case, *side(f["workers_1"]), *side(f["workers_2"]), f"{f['scaling']:.2f}x",
             span(f["scaling_per_round"])) for case, f in figures["workers"].items()),
        ("alone, one after the other; the service free to use every CPU, wrk and "
         "redis-server on the second (see throughput.py)",))], []
