"""deploy/redis.conf: a real redis-server runs with it and has every setting."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.ops.conftest import REDIS_CONF, ROOT, StartServer

MB = 1024 * 1024
# The guide's hybrid persistence and memory limits, as CONFIG GET reports them.
EXPECTED = {
    "save": "60 1000 300 100 900 1",
    "appendonly": "yes",
    "appendfsync": "everysec",
    "aof-use-rdb-preamble": "yes",
    "rdbcompression": "yes",
    "rdbchecksum": "yes",
    "dbfilename": "dump.rdb",
    "appendfilename": "appendonly.aof",
    "appenddirname": "appendonlydir",
    "auto-aof-rewrite-percentage": "100",
    "auto-aof-rewrite-min-size": str(64 * MB),
    "no-appendfsync-on-rewrite": "no",
    "maxmemory": str(256 * MB),
    "maxmemory-policy": "allkeys-lru",
    "tcp-keepalive": "300",
    "tcp-backlog": "511",
    "timeout": "0",
    # Off on purpose (the file says why): the service holds unconfirmed writes itself.
    "min-replicas-to-write": "0",
    "min-replicas-max-lag": "10",
}


def directives(path: Path) -> dict[str, str]:
    """The file's settings (repeated `save` lines joined, as CONFIG GET shows them)."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.strip().partition(" ")
            found.setdefault(name, []).append(value.strip().strip('"'))
    return {name: " ".join(values) for name, values in found.items()}


def test_a_real_server_started_with_it_has_every_setting(redis_factory: StartServer) -> None:
    server = redis_factory(conf=REDIS_CONF)
    with server.client() as client:
        config = client.config_get("*")
    assert {name: config[name] for name in EXPECTED} == EXPECTED
    assert config["dir"] == str(server.data_dir)  # the test's override won


def test_the_file_names_the_production_data_dir() -> None:
    assert directives(REDIS_CONF)["dir"] == "/var/lib/redis"


def test_it_agrees_with_the_compose_file_on_every_shared_flag() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    flags = compose["services"]["redis"]["command"].split()[2:]  # after the password's file
    from_compose: dict[str, list[str]] = {}
    name = ""
    for token in flags:
        if token.startswith("--"):
            name = token[2:]
            from_compose.setdefault(name, [])
        else:
            from_compose[name].append(token)
    conf = directives(REDIS_CONF)
    assert {n: " ".join(v) for n, v in from_compose.items()} == {n: conf[n] for n in from_compose}


def test_acknowledged_writes_survive_a_crash(redis_factory: StartServer) -> None:
    server = redis_factory(conf=REDIS_CONF)
    with server.client() as client:
        client.mset({f"k{i}": i for i in range(100)})
    # SIGKILL: no shutdown save. The AOF write happened before the reply
    # (appendfsync everysec only delays the fsync), so a process crash loses nothing.
    server.kill()
    with redis_factory(data_dir=server.data_dir, conf=REDIS_CONF).client() as client:
        assert client.mget([f"k{i}" for i in range(100)]) == [str(i).encode() for i in range(100)]
