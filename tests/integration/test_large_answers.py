"""Large answers are not a hung Redis, and an `_mget` answer has a byte
budget (CACHE_BATCH_MAX_ANSWER_BYTES): real redis-server processes, and the
real service process where the link's timing is the point."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from scripts.harness.redis_cluster import LocalCluster
from scripts.harness.redis_server import RedisServer
from scripts.harness.service_process import ServiceProcess
from service import appkeys
from service.cache import codec
from tests.support.batches import mget
from tests.support.slow_link import SlowLink
from tests.support.waiting import ready_client

StartClient = Callable[..., Awaitable[TestClient]]
StartService = Callable[..., ServiceProcess]

BIG = 900 * 1024
BIG_KEYS = [f"big{i:03d}" for i in range(100)]
# The in-process app's budget when a test wants a few small values to fill it.
SMALL_BUDGET = {"CACHE_BATCH_MAX_ANSWER_BYTES": "10000"}
# The 250 ms deadline plus scheduling slack on a loaded 2-core machine.
HANG_BUDGET_S = 0.25 + 0.5

# Memory hits on one connection: a first one, then "ready", then more until
# its stdin closes; prints how many of those, the worst latency (ms) and how
# many answers were not a 200 hit-memory.
HAMMER = """
import http.client, select, sys, time
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
count, worst, wrong = 0, 0.0, 0
conn.request("GET", sys.argv[2])
conn.getresponse().read()
print("ready", flush=True)
while not select.select([sys.stdin], [], [], 0)[0]:
    started = time.perf_counter()
    conn.request("GET", sys.argv[2])
    answer = conn.getresponse()
    answer.read()
    worst = max(worst, time.perf_counter() - started)
    count += 1
    wrong += (answer.status, answer.getheader("X-Cache")) != (200, "hit-memory")
print(count, worst * 1000, wrong)
"""


def _big(i: int) -> bytes:
    return b"%03d" % i + b"x" * (BIG - 3)


def _v2(body: bytes) -> bytes:
    """A value as the service stores it, written by another program."""
    return codec.encode(body, "text/plain", codec.new_stamp(time.time(), 600_000))


async def _read_all(post: Callable[[list[str]], Awaitable[Any]], keys: list[str]
                    ) -> tuple[dict[str, Any], list[str], int]:
    """Every key's hit or miss, asking again for the unread ones; the calls made."""
    hits: dict[str, Any] = {}
    misses: list[str] = []
    calls = 0
    while keys:
        body = await post(keys)
        calls += 1
        assert not set(body["hits"]) & set(body.get("unread", []))
        hits.update(body["hits"])
        misses += body["misses"]
        keys = body.get("unread", [])
    return hits, misses, calls


async def _events(session: aiohttp.ClientSession, base: str) -> Any:
    async with session.get(f"{base}/health/events?limit=1000") as answer:
        return await answer.json()


async def test_a_100_x_900_kib_mget_keeps_the_link_the_memory_tier_and_memory_hits(
    redis_server: RedisServer, service_process: StartService
) -> None:
    """The production timing (250 ms command deadline, 1 s backoff), the
    default answer budget: 87 MiB asked for at once is read over a few
    calls, and the instance never takes it for a hung Redis."""
    with redis_server.client() as raw:
        raw.mset({f"roleready:default:{key}": _v2(_big(i)) for i, key in enumerate(BIG_KEYS)})
    # Memory keeps entries up to 1/16 of its bytes: the big values stay in
    # Redis alone, so only a reconnect could make the memory tier forget "hot".
    service = service_process(REDIS_URL=redis_server.url, REDIS_LAZY_CONNECT="false",
                              CACHE_LRU_MAX_BYTES=str(8 << 20))
    base = service.base_url
    async with aiohttp.ClientSession() as session:
        async with session.put(f"{base}/cache/default/hot", data=b"warm") as put:
            assert put.status == 204
        async with session.get(f"{base}/cache/default/hot") as got:
            assert got.headers["X-Cache"] == "hit-memory"

        async def post(keys: list[str]) -> Any:
            async with session.post(f"{base}/cache/default/_mget", json={"keys": keys}) as answer:
                assert answer.status == 200
                return await answer.json()

        hammer = subprocess.Popen(
            [sys.executable, "-c", HAMMER, str(service.port), "/cache/default/hot"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert hammer.stdout is not None and hammer.stdout.readline() == "ready\n"
            started = time.monotonic()
            hits, misses, calls = await _read_all(post, BIG_KEYS)
            took = time.monotonic() - started
        finally:
            count, worst_ms, wrong = hammer.communicate("", timeout=30)[0].split()
        print(f"\n100 x 900 KiB _mget: {calls} calls, {took:.2f} s; {count} concurrent "
              f"memory hits, worst {float(worst_ms):.1f} ms")
        events = await _events(session, base)
        assert [e for e in events["events"] if e["type"] == "ErrorSeen"] == []
        assert events["state"] == "ready"
        assert (int(wrong), int(count) > 0) == (0, True)
        assert (sorted(hits), misses) == (BIG_KEYS, [])
        assert all(hits[key]["value"] == _big(i).decode() and hits[key]["source"] == "redis"
                   for i, key in enumerate(BIG_KEYS))
        assert calls > 1  # the default budget (8 MiB) holds nine of them
        async with session.get(f"{base}/cache/default/hot") as got:
            assert got.headers["X-Cache"] == "hit-memory"


async def test_replies_still_arriving_are_progress_and_a_hang_among_them_is_still_one(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    """The link itself, over a slow network (a proxy passing 16 KiB every
    5 ms, ~3 MiB/s): ten GETs of 128 KiB in one batch take ~0.4 s on a
    250 ms deadline, and the commands queued behind them are answered;
    answers stopping in the middle of such a batch still fail it, and
    drop the link, about 250 ms after the last reply."""
    with redis_server.client() as raw:
        raw.mset({f"v{i}": b"%d" % i * 131_072 for i in range(10)})
    proxy = await SlowLink(redis_server.port, chunk=16_384, pause_s=0.005).start()
    try:
        client = await ready_client(app_client, proxy.url, REDIS_HEALTH_CHECK_INTERVAL_MS="1000")
        link = client.app[appkeys.LINK]
        assert client.app[appkeys.SETTINGS].redis_command_timeout_ms == 250
        started = time.monotonic()
        large = asyncio.ensure_future(link.execute([("GET", f"v{i}") for i in range(10)]))
        await asyncio.sleep(0)  # that batch is on its way: these queue behind it
        behind = [asyncio.ensure_future(link.execute((("PING",),))) for _ in range(3)]
        replies = await large
        assert time.monotonic() - started > 0.25  # else this proves nothing
        assert replies == [b"%d" % i * 131_072 for i in range(10)]
        assert [await ping for ping in behind] == [[b"PONG"]] * 3
        assert (link.lifecycle.view.reconnects_total, link.state) == (0, "ready")

        large = asyncio.ensure_future(link.execute([("GET", f"v{i}") for i in range(10)]))
        await asyncio.sleep(0.1)  # a few replies in
        proxy.hold()
        held = time.monotonic()
        assert await large is None
        assert time.monotonic() - held < HANG_BUDGET_S
        assert link.state != "ready"
    finally:
        proxy.release()
        await proxy.close()


async def test_redis_hits_past_the_budget_are_unread_and_a_second_call_reads_them(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    values = {f"r{i}": b"%d" % i * 4000 for i in range(6)}
    with redis_server.client() as raw:
        raw.mset({f"roleready:default:{k}": _v2(v) for k, v in values.items()})
    client = await ready_client(app_client, redis_server.url, **SMALL_BUDGET)
    keys = [*values, "gone"]
    first = await mget(client, keys)
    # Two stored values (4000 bytes and a header each) fit in 10000; the
    # third does not, and the answer stops there, in the order asked.
    assert (sorted(first["hits"]), first["misses"]) == (["r0", "r1"], [])
    assert first["unread"] == ["r2", "r3", "r4", "r5", "gone"]
    hits, misses, calls = await _read_all(lambda keys: mget(client, keys), first["unread"])
    assert (sorted(hits), misses, calls) == (["r2", "r3", "r4", "r5"], ["gone"], 2)
    assert {k: h["value"].encode() for k, h in hits.items()} == {
        k: v for k, v in values.items() if k in hits}
    assert {h["source"] for h in hits.values()} == {"redis"}


async def test_memory_hits_past_the_budget_are_unread_and_a_large_value_comes_alone(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url, **SMALL_BUDGET)
    for i in range(4):
        assert (await client.put(f"/cache/default/m{i}", data=b"m" * 4000)).status == 204
    large = b"L" * 30_000  # three budgets: carried alone, never stuck as unread
    assert (await client.put("/cache/default/large", data=large)).status == 204
    first = await mget(client, ["m0", "m1", "m2", "m3"])
    assert (sorted(first["hits"]), first["unread"]) == (["m0", "m1"], ["m2", "m3"])
    assert {h["source"] for h in first["hits"].values()} == {"memory"}
    alone = await mget(client, ["large", "m0"])
    assert (list(alone["hits"]), alone["unread"]) == (["large"], ["m0"])
    assert alone["hits"]["large"]["value"] == large.decode()
    # A single GET of it is no batch: no budget applies.
    got = await client.get("/cache/default/large")
    assert (got.status, await got.read()) == (200, large)
    # Below the budget nothing is unread.
    assert (await mget(client, ["m3", "nope"]))["unread"] == []


async def test_the_budget_holds_in_memory_only_mode(app_client: StartClient) -> None:
    client = await app_client("", **SMALL_BUDGET)
    for i in range(5):
        assert (await client.put(f"/cache/default/k{i}", data=b"v" * 3000)).status == 204
    keys = [f"k{i}" for i in range(5)] + ["never"]
    first = await mget(client, keys)
    # Without Redis a memory miss is a miss at once, whatever the budget.
    assert (sorted(first["hits"]), first["misses"]) == (["k0", "k1", "k2"], ["never"])
    assert first["unread"] == ["k3", "k4"]
    hits, misses, calls = await _read_all(lambda keys: mget(client, keys), first["unread"])
    assert (sorted(hits), misses, calls) == (["k3", "k4"], [], 1)


async def test_the_budget_holds_over_the_masters_of_a_cluster(
    app_client: StartClient, redis_cluster: LocalCluster
) -> None:
    """A cluster's read is one script per slot: they share the first reply's
    bytes, and the budget is spent in the order asked, as on one Redis."""
    client = await ready_client(app_client, "redis://127.0.0.1:1",
                                REDIS_CLUSTER_NODES=redis_cluster.seeds, **SMALL_BUDGET)
    keys = [f"c{i:02d}" for i in range(12)]
    assert len({redis_cluster.master_for(f"roleready:default:{k}").port for k in keys}) == 3
    entries = {key: {"value": key * 1500} for key in keys}  # 4500 bytes each
    stored = await client.post("/cache/default/_mset", json={"entries": entries})
    assert set((await stored.json())["stored"].values()) == {"redis"}
    client.app[appkeys.CACHE].memory.clear()
    answers = []
    while len(answers) < 12 and (not answers or answers[-1]["unread"]):
        answers.append(await mget(client, answers[-1]["unread"] if answers else keys))
    assert [sorted(answer["hits"]) for answer in answers] == [keys[i:i + 2] for i in range(0, 12, 2)]
    assert all(hit["value"] == key * 1500 for answer in answers
               for key, hit in answer["hits"].items())


async def test_a_batch_read_asks_redis_for_about_a_mib_per_round_trip(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    """Whatever the answer budget: the script's reply carries up to 1 MiB,
    the values it only sized follow in round trips of up to 1 MiB each."""
    values = {f"q{i}": b"%d" % i * 400_000 for i in range(5)}
    with redis_server.client() as raw:
        raw.mset({f"roleready:default:{k}": _v2(v) for k, v in values.items()})
    # No idle PING may join the count.
    client = await ready_client(app_client, redis_server.url, REDIS_HEALTH_CHECK_INTERVAL_MS="60000",
                                CACHE_BATCH_MAX_ANSWER_BYTES=str(100 << 20))
    session = client.app[appkeys.LINK].session()
    assert session is not None
    before = (session.pipeline.batches_sent, session.pipeline.commands_sent)
    body = await mget(client, list(values))
    assert {k: h["value"].encode() for k, h in body["hits"].items()} == values
    # The script (q0, q1), then GETs: q2 + q3, then q4.
    sent = (session.pipeline.batches_sent - before[0], session.pipeline.commands_sent - before[1])
    assert sent == (3, 4)
