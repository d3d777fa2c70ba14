"""A light steady load for the failover section, as its own process.

    python -m scripts.benchmark.trickle BASE_URL [--rate 10] [--keys 32]

PUT k, then GET k, for keys t0..t{keys-1} in turn, `rate` requests a second,
each on a new connection (so a refused connection shows as one), until
SIGTERM (or --limit seconds). Then it prints one `BENCH_JSON {...}` line:
requests, answers by class (2xx, 404, other 4xx, 5xx), refused connections,
other failures (reset, timeout) and the slowest request in ms.
"""

from __future__ import annotations

import argparse
import http.client
import signal
import sys
import time
from types import FrameType
from urllib.parse import urlsplit

from scripts.benchmark import emit

REQUEST_TIMEOUT_S = 5.0
VALUE = b'{"score": 87, "source": "failover trickle"}'


class Tally:
    def __init__(self) -> None:
        self.counts = {"requests": 0, "s2xx": 0, "s404": 0, "s4xx": 0, "s5xx": 0,
                       "refused": 0, "failed": 0}
        self.max_ms = 0.0

    def one(self, host: str, port: int, method: str, path: str) -> None:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_S)
        try:
            body = VALUE if method == "PUT" else None
            headers = {"Content-Type": "application/json"} if body else {}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            self.counts[_status_class(response.status)] += 1
        except ConnectionRefusedError:
            self.counts["refused"] += 1
        except (OSError, http.client.HTTPException):
            self.counts["failed"] += 1
        finally:
            connection.close()
        self.counts["requests"] += 1
        self.max_ms = max(self.max_ms, (time.perf_counter() - started) * 1000)

    def result(self) -> dict[str, float]:
        return {**self.counts, "max_ms": self.max_ms}


def _status_class(status: int) -> str:
    if 200 <= status < 300:
        return "s2xx"
    if status == 404:
        return "s404"
    return "s5xx" if status >= 500 else "s4xx"


def run(base_url: str, rate: float, keys: int, limit_s: float) -> dict[str, float]:
    target = urlsplit(base_url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    tally = Tally()
    started = next_at = time.monotonic()
    tick = 0
    while not stopping and time.monotonic() - started < limit_s:
        method = "PUT" if tick % 2 == 0 else "GET"
        tally.one(host, port, method, f"/cache/default/t{(tick // 2) % keys}")
        tick += 1
        # A steady pace: a slow answer is not made up for with a burst.
        next_at = max(next_at + 1 / rate, time.monotonic())
        time.sleep(max(0.0, next_at - time.monotonic()))
    return tally.result()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second")
    parser.add_argument("--keys", type=int, default=32)
    parser.add_argument("--limit", type=float, default=300.0, help="stop after this many s")
    args = parser.parse_args(argv)
    result = run(args.base_url, args.rate, args.keys, args.limit)
    return emit(result)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
