"""Bare aiohttp handlers that scripts/bench measures the service against.

    bytes      GET /cache/{namespace}/{key} -> the same stored bytes, from a constant
    redis-get  GET /cache/{namespace}/{key} -> one `await redis.get(...)` per request
    redis-set  PUT /cache/{namespace}/{key} -> one `await redis.set(..., px=ttl)` per request

Deliberately naive, with the service's server settings (route pattern,
access log off, uvloop). Method: docs/performance.md, "How to run it".
Run: python -m scripts.benchmark.baselines MODE --port N [--redis-url URL] [--value-file F]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from aiohttp import web
from redis.asyncio import Redis

ROUTE = "/cache/{namespace}/{key}"
TTL_MS = 300_000
CONTENT_TYPE = "application/json"


def build_app(args: argparse.Namespace, redis: Redis | None) -> web.Application:
    def key(request: web.Request) -> str:
        return f"bench:{request.match_info['namespace']}:{request.match_info['key']}"

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def fixed(request: web.Request) -> web.Response:
        return web.Response(body=value, headers={"Content-Type": CONTENT_TYPE})

    async def get(request: web.Request) -> web.Response:
        assert redis is not None
        found = await redis.get(key(request))
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found, headers={"Content-Type": CONTENT_TYPE})

    async def put(request: web.Request) -> web.Response:
        assert redis is not None
        await redis.set(key(request), await request.read(), px=TTL_MS)
        return web.Response(status=204)

    value = Path(args.value_file).read_bytes() if args.mode == "bytes" else b""
    app = web.Application()
    app.router.add_get("/ping", ping)
    if args.mode == "redis-set":
        app.router.add_put(ROUTE, put)
    else:
        app.router.add_get(ROUTE, fixed if args.mode == "bytes" else get, allow_head=False)
    return app


async def serve(args: argparse.Namespace) -> None:
    redis = Redis.from_url(args.redis_url) if args.mode != "bytes" else None
    runner = web.AppRunner(build_app(args, redis), access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        await web.TCPSite(runner, "127.0.0.1", args.port).start()
        await stop.wait()
    finally:
        await runner.cleanup()
        if redis is not None:
            await redis.aclose()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("bytes", "redis-get", "redis-set"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--value-file", default="")
    args = parser.parse_args(argv)
    if (args.mode == "bytes") != bool(args.value_file) or (args.mode != "bytes") != bool(
            args.redis_url):
        parser.error("bytes needs --value-file, redis-get and redis-set --redis-url")
    loop_factory = asyncio.new_event_loop
    try:
        import uvloop
        loop_factory = uvloop.new_event_loop
    except ImportError:  # as the service does where uvloop is missing
        pass
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
