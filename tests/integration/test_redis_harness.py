"""The redis-server harness itself: start, kill, hang, restart, clean up."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import redis

from tests.support.ports import port_is_open
from tests.support.redis_server import RedisServer, RedisServers, ping

pytestmark = pytest.mark.redis


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): read its state to be sure.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_server_answers_on_its_own_port_and_dir(redis_server: RedisServer) -> None:
    assert redis_server.port != 6379
    client = redis.Redis(port=redis_server.port)
    assert client.ping() is True
    assert client.config_get("dir")["dir"] == str(redis_server.data_dir)
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}"
    client.close()


def test_extra_config_flags_apply(redis_factory) -> None:  # type: ignore[no-untyped-def]
    server = redis_factory("--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru")
    client = redis.Redis(port=server.port)
    assert client.config_get("maxmemory")["maxmemory"] == str(3 * 1024 * 1024)
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
    client.close()


def test_kill_then_restart_on_the_same_port(redis_server: RedisServer) -> None:
    port = redis_server.port
    redis_server.kill()
    assert not redis_server.running
    assert not port_is_open(port)
    redis_server.restart()
    assert redis_server.port == port
    assert ping(port)


def test_stop_is_a_clean_shutdown_that_keeps_saved_data(redis_factory) -> None:  # type: ignore[no-untyped-def]
    server = redis_factory("--save", "3600 1")
    client = redis.Redis(port=server.port)
    client.set("kept", "yes")
    client.close()
    server.stop()  # SIGTERM saves because a save point is configured
    assert (server.data_dir / "dump.rdb").exists()
    server.start()
    client = redis.Redis(port=server.port)
    assert client.get("kept") == b"yes"
    client.close()


def test_pause_hangs_the_server_and_resume_brings_it_back(redis_server: RedisServer) -> None:
    redis_server.pause()
    # The kernel still accepts the connection, but nothing answers: a hang.
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=1):
        pass
    assert not ping(redis_server.port, timeout=0.3)
    redis_server.resume()
    assert ping(redis_server.port, timeout=2)


def test_every_process_is_gone_after_the_group_closes_even_on_failure(
    tmp_path: Path,
) -> None:
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="test body failed"), RedisServers(tmp_path) as servers:
        first = servers.start()
        second = servers.start()
        second.pause()  # a hung server must be cleaned up too
        pids = [p for p in (first.pid, second.pid) if p is not None]
        assert all(_alive(pid) for pid in pids)
        raise RuntimeError("test body failed")
    assert len(pids) == 2
    assert not any(_alive(pid) for pid in pids)


def test_a_server_that_cannot_start_is_reported(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "bad", port=1, args=["--no-such-option", "x"])
    with pytest.raises(RuntimeError, match="exited at start-up"):
        server.start()
    assert not server.running
