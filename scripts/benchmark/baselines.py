"""Bare aiohttp handlers that scripts/bench measures the service against.

    bytes      GET /cache/{namespace}/{key} -> the same stored bytes, from a constant
    redis-get  GET /cache/{namespace}/{key} -> one `await redis.get(...)` per request
    redis-set  PUT /cache/{namespace}/{key} -> one `await redis.set(..., px=ttl)` per request

Each runs as its own process with the service's server settings: the same
route pattern, `web.AppRunner(access_log=None)`, the service's default event
loop (uvloop; `--event-loop asyncio` for the standard library's), no
middlewares. They are deliberately naive: one Redis round trip per
request is what the service's auto-pipelining is compared with.
Run: python -m scripts.benchmark.baselines MODE --port N [--redis-url URL] [--value-file F]
        [--event-loop uvloop|asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from redis.asyncio import Redis

ROUTE = "/cache/{namespace}/{key}"
KEY_PREFIX = "bench"
TTL_MS = 300_000
Handler = Callable[[web.Request], Awaitable[web.Response]]


def redis_key(request: web.Request) -> str:
    return f"{KEY_PREFIX}:{request.match_info['namespace']}:{request.match_info['key']}"


def bytes_handler(value: bytes, content_type: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=value, headers={"Content-Type": content_type})

    return handler


def redis_get_handler(redis: Redis, content_type: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        value = await redis.get(redis_key(request))
        if value is None:
            return web.Response(status=404)
        return web.Response(body=value, headers={"Content-Type": content_type})

    return handler


def redis_set_handler(redis: Redis) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        await redis.set(redis_key(request), await request.read(), px=TTL_MS)
        return web.Response(status=204)

    return handler


async def ping(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def build_app(args: argparse.Namespace, redis: Redis | None) -> web.Application:
    app = web.Application()
    app.router.add_get("/ping", ping)
    if args.mode == "bytes":
        value = Path(args.value_file).read_bytes()
        app.router.add_get(ROUTE, bytes_handler(value, args.content_type), allow_head=False)
    elif args.mode == "redis-get":
        assert redis is not None
        app.router.add_get(ROUTE, redis_get_handler(redis, args.content_type), allow_head=False)
    else:
        assert redis is not None
        app.router.add_put(ROUTE, redis_set_handler(redis))
    return app


async def serve(args: argparse.Namespace) -> None:
    redis = Redis.from_url(args.redis_url) if args.mode != "bytes" else None
    runner = web.AppRunner(build_app(args, redis), access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await web.TCPSite(runner, "127.0.0.1", args.port).start()
        await stop.wait()
    finally:
        await runner.cleanup()
        if redis is not None:
            await redis.aclose()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("bytes", "redis-get", "redis-set"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--value-file", default="")
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("--event-loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args(argv)
    if args.mode == "bytes" and not args.value_file:
        parser.error("bytes needs --value-file")
    if args.mode != "bytes" and not args.redis_url:
        parser.error(f"{args.mode} needs --redis-url")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    with asyncio.Runner(loop_factory=_loop_factory(args.event_loop)) as runner:
        runner.run(serve(args))
    return 0


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:  # as the service does where uvloop is missing
            return asyncio.new_event_loop
        return uvloop.new_event_loop
    return asyncio.new_event_loop


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
