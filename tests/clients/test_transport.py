"""The Python twins' transport without a service: a listener that accepts
and stays silent (Timeout, within the client's timeout), a port nobody
listens on (ConnectionFailed), and a base URL with a path prefix (a service
behind a proxy), which every request keeps."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from roleready_cache_client import ConnectionFailed, Timeout

from scripts.harness.ports import free_port
from tests.clients.twins import KINDS, twins


@pytest.fixture
def silent() -> Iterator[str]:
    """A URL whose server accepts connections and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("kind", KINDS)
async def test_no_answer_is_a_timeout(kind: str, silent: str) -> None:
    async with twins(kind) as make:
        cache = make(silent, timeout_s=0.3)
        started = time.monotonic()
        with pytest.raises(Timeout) as late:
            await cache.get("k")
        assert late.value.status == 0 and time.monotonic() - started < 5


@pytest.mark.parametrize("kind", KINDS)
async def test_nobody_listening_is_a_connection_failure(kind: str) -> None:
    async with twins(kind) as make:
        with pytest.raises(ConnectionFailed):
            await make(f"http://127.0.0.1:{free_port()}").put("k", "v")


class _Recorder(BaseHTTPRequestHandler):
    """Answers every PUT 204 and keeps the paths it was asked for."""

    paths: list[str] = []

    def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.paths.append(self.path)
        self.send_response(204)
        self.send_header("X-Cache-Stored", "redis")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("kind", KINDS)
async def test_a_path_prefix_is_kept(kind: str) -> None:
    _Recorder.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        async with twins(kind) as make:
            url = f"http://127.0.0.1:{server.server_address[1]}/behind/proxy/"
            assert (await make(url).put("k", "v")).where == "redis"
    finally:
        server.shutdown()
        server.server_close()
    assert _Recorder.paths == ["/behind/proxy/cache/default/k"]
