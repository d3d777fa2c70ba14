"""Build information, the standard process/python collectors, the memory
tier's expirations and the per-namespace lookup counters on /metrics."""

from __future__ import annotations

from importlib import metadata

from scripts.harness.redis_server import RedisServer
from service import __version__, appkeys
from statemachine.clock import FakeClock
from tests.integration.test_health import StartClient, _metrics
from tests.support.waiting import ready_client


async def test_build_info_matches_api_status(app_client: StartClient) -> None:
    client = await app_client("")
    status = await (await client.get("/api/status")).json()
    assert status["version"] == __version__ == metadata.version("roleready-cache")
    build = status["build"]
    assert build["version"] == status["version"]
    samples = await _metrics(client)
    labels = {"version": build["version"], "python": build["python"], "redis_py": build["redisPy"]}
    assert samples[("roleready_build_info", tuple(sorted(labels.items())))] == 1
    assert sum(1 for name, _ in samples if name == "roleready_build_info") == 1


async def test_process_and_python_collectors_in_every_app(app_client: StartClient) -> None:
    for client in (await app_client(""), await app_client("")):  # one registry per app
        names = {name for name, _ in await _metrics(client)}
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_open_fds", "process_start_time_seconds",
                     "python_info", "python_gc_objects_collected_total"):
            assert name in names, name


async def test_memory_only_batch_misses_are_counted(app_client: StartClient) -> None:
    client = await app_client("")
    await client.post("/cache/default/_mget", json={"keys": ["x", "y"]})
    assert (await _metrics(client))[_lookups("default", "miss")] == 2


async def test_memory_expirations_are_counted(app_client: StartClient) -> None:
    clock = FakeClock()
    client = await app_client("", clock=clock)
    await client.put("/cache/default/short?ttl_ms=1000", data=b"1")
    await client.put("/cache/default/long", data=b"2")
    assert (await _metrics(client))[("roleready_memory_cache_expirations_total", ())] == 0
    clock.advance(2)
    assert (await client.get("/cache/default/short")).status == 404
    assert (await client.get("/cache/default/long")).status == 200
    after = await _metrics(client)
    assert after[("roleready_memory_cache_expirations_total", ())] == 1
    assert client.app[appkeys.CACHE].memory.expirations == 1


def _lookups(namespace: str, result: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("roleready_cache_namespace_lookups_total",
            (("namespace", namespace), ("result", result)))


async def test_per_namespace_lookups_move(app_client: StartClient, redis_server: RedisServer) -> None:
    client = await ready_client(app_client, redis_server.url)
    before = await _metrics(client)
    assert before[_lookups("ai_draft", "hit_memory")] == 0  # every namespace, from the start
    await client.put("/cache/default/a", data=b"1")
    await client.get("/cache/default/a")  # memory
    await client.get("/cache/default/a")  # memory (the fast path)
    client.app[appkeys.CACHE].memory.clear()
    await client.get("/cache/default/a")  # Redis
    await client.get("/cache/job_analysis/none")  # miss
    await client.get("/cache/nope/x")  # unknown namespace: not counted
    # A batch counts each key as a GET would.
    await client.put("/cache/ats_score/b", data=b"2")
    mget = await client.post("/cache/ats_score/_mget", json={"keys": ["b", "c"]})
    assert mget.status == 200
    after = await _metrics(client)
    assert after[_lookups("default", "hit_memory")] == 2
    assert after[_lookups("default", "hit_redis")] == 1
    assert after[_lookups("default", "miss")] == 0
    assert after[_lookups("job_analysis", "miss")] == 1
    assert (after[_lookups("ats_score", "hit_memory")], after[_lookups("ats_score", "miss")]) == (1, 1)
    assert not any(dict(labels).get("namespace") == "nope" for _, labels in after)
