"""What scripts/bench sends: the stored value, the keys, the request mixes,
and the seeding of the hot keys through each server's own PUT handler.
"""

from __future__ import annotations

import json
from pathlib import Path

from scripts.benchmark.load import Request, Workload
from scripts.benchmark.processes import BenchError, Processes, ready
from scripts.harness.service_process import ServiceProcess, http

Servers = tuple[ServiceProcess, ...]

NAMESPACE = "default"
CONTENT_TYPE = "application/json"
HOT_KEYS = 64
PUT_KEYS = 256


def make_value(size: int) -> bytes:
    """A JSON document of exactly `size` bytes (an ATS score, say)."""
    head = b'{"score": 87, "keywords": ["python", "aiohttp", "redis"], "pad": "'
    tail = b'"}'
    filler = max(0, size - len(head) - len(tail))
    value = head + b"x" * filler + tail
    json.loads(value)  # it must stay valid JSON at any size we pick
    return value


def service_env(name: str, redis_url: str, **env: str) -> dict[str, str]:
    """A service on `redis_url`, connected at start-up, its keys under bench-`name`."""
    return {"REDIS_URL": redis_url, "REDIS_LAZY_CONNECT": "false",
            "CACHE_KEY_PREFIX": f"bench-{name}", **env}


def path(key: str) -> str:
    return f"/cache/{NAMESPACE}/{key}"


def hot_get() -> Workload:
    return Workload("hot-get", tuple(Request("GET", path(f"hot{i}")) for i in range(HOT_KEYS)))


def put(value: bytes) -> Workload:
    return Workload("put", tuple(
        Request("PUT", path(f"put{i}"), value, CONTENT_TYPE) for i in range(PUT_KEYS)
    ))


def outage_mix(value: bytes) -> Workload:
    requests: list[Request] = []
    for i in range(HOT_KEYS):
        requests.extend(Request("GET", path(f"hot{(i * 3 + j) % HOT_KEYS}")) for j in range(3))
        requests.append(Request("PUT", path(f"out{i}"), value, CONTENT_TYPE))
    return Workload("outage-mix", tuple(requests))


def warm(server: ServiceProcess, hit: str, passes: int = 3) -> None:
    """GET every hot key, pass after pass, until a whole pass answers `hit`.

    A memory tier fills by reading: seeding writes through one instance (a
    PUT through another would reach the first as an invalidation and empty
    its copy: NOLOOP only spares a writer its own writes); with workers,
    each new connection reaches whichever worker accepts it, each worker with
    a memory tier of its own, so every key is read on every pass."""
    for _ in range(passes):
        if all([http(server.base_url + path(f"hot{i}"))[1].get("X-Cache") == hit
                for i in range(HOT_KEYS)]):
            return
    raise BenchError(f"{server.name}: hot keys still not {hit} after {passes} passes")


def store(base_url: str, key: str, value: bytes) -> None:
    status, _, _ = http(base_url + path(key), method="PUT", body=value,
                        headers={"Content-Type": CONTENT_TYPE})
    if status != 204:
        raise BenchError(f"storing {base_url}{path(key)} answered {status}")


def seed_hot_keys(base_url: str, value: bytes) -> None:
    for i in range(HOT_KEYS):
        store(base_url, f"hot{i}", value)


def hot_services(procs: Processes, name: str, redis_url: str, instances: int, value: bytes,
                 root: Path | None = None, **env: str) -> tuple[Servers, Servers]:
    """`instances` services (from `root`) of each kind on `redis_url`: the
    default memory tier (keys under bench-`name`-memory), and
    CACHE_LRU_MAX_ITEMS=0 (bench-`name`-redis: every GET a Redis hit);
    hot keys seeded through the first of a kind (a kind's instances share
    Redis keys), then every hot GET a hit of its kind."""
    memory, redis_only = (tuple(procs.service(f"{name}-{kind}-{i}", service_env(
        f"{name}-{kind}", redis_url, **env, **extra), root, wait=False)
        for i in range(instances)) for kind, extra in (("memory", {}), ("redis", {
            "CACHE_LRU_MAX_ITEMS": "0"})))
    ready(*memory, *redis_only)
    for servers, hit in ((memory, "hit-memory"), (redis_only, "hit-redis")):
        seed_hot_keys(servers[0].base_url, value)
        for service in servers:
            warm(service, hit)
    return memory, redis_only
