"""docker-compose.yml and docker-compose.ha.yml, checked without a Docker
engine (the Dockerfile: test_dockerfile.py).

The compose file is parsed with PyYAML and compared with the guide flag for
flag; the Redis command line is also run by a real redis-server (so a
misspelt flag fails here, not in production), and the service's healthcheck
command is run against the real service. docker-compose.ha.yml's profiles
(sentinel, cluster) are checked for wiring (every dependency, network,
volume and variable known) and their Redis flags and deploy/sentinel.conf
are run by real servers, compose names replaced by loopback addresses.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.harness.ports import free_port
from scripts.harness.service_process import ServiceProcess
from scripts.harness.waiting import wait_for
from service.config import VARIABLES
from tests.ops.conftest import ROOT, StartServer

GUIDE_REDIS_COMMAND = [
    "redis-server",
    "--appendonly", "yes",
    "--appendfsync", "everysec",
    "--save", "60", "1000",
    "--save", "300", "100",
    "--save", "900", "1",
    "--maxmemory", "256mb",
    "--maxmemory-policy", "allkeys-lru",
    "--tcp-backlog", "511",
    "--timeout", "0",
    "--tcp-keepalive", "300",
]
MB = 1024 * 1024
# The data nodes' password, as a config file from a secret (requirepass, masterauth).
AUTH_CONF = "/run/secrets/redis-auth.conf"
AUTHENTICATED_PING = ["CMD-SHELL", 'REDISCLI_AUTH="$$(cat /run/secrets/redis-password)" '
                      "redis-cli ping | grep -q PONG"]
PASSWORD = "compose-test-password"


def auth_conf(directory: Path) -> Path:
    """secrets/redis-auth.conf as docker-compose.yml's comment makes it."""
    path = directory / "redis-auth.conf"
    path.write_text(f"requirepass {PASSWORD}\nmasterauth {PASSWORD}\n")
    return path


HA_PROFILES = {"sentinel", "cluster"}


def load(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load("docker-compose.yml")


@pytest.fixture(scope="module")
def ha() -> dict[str, Any]:
    return load("docker-compose.ha.yml")


def test_redis_service_is_the_guides_flag_for_flag(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    assert redis["image"] == "redis:7-alpine"
    assert redis["container_name"] == "roleready-redis"
    assert redis["restart"] == "unless-stopped"
    assert redis["ports"] == ["127.0.0.1:6379:6379"]  # this host's tools only
    command = redis["command"].split()
    assert command[:2] == ["redis-server", AUTH_CONF]
    assert [command[0], *command[2:]] == GUIDE_REDIS_COMMAND
    assert redis["volumes"] == ["redis-data:/data"]
    assert redis["healthcheck"] == {
        "test": AUTHENTICATED_PING, "interval": "30s", "timeout": "3s", "retries": 3,
    }
    assert redis["networks"] == ["roleready-network"]
    assert compose["volumes"] == {"redis-data": {"driver": "local"},
                                  "cache-state": {"driver": "local"}}
    assert compose["networks"] == {"roleready-network": {"driver": "bridge"}}


def test_redis_command_is_accepted_by_a_real_redis_server(
    compose: dict[str, Any], redis_factory: StartServer, tmp_path: Path
) -> None:
    flags = compose["services"]["redis"]["command"].split()[2:]
    with redis_factory(*flags, conf=auth_conf(tmp_path), password=PASSWORD).client() as client:
        config = client.config_get("*")
    assert config["masterauth"] == PASSWORD  # only the file says so
    assert config["appendonly"] == "yes" and config["appendfsync"] == "everysec"
    assert config["save"] == "60 1000 300 100 900 1"
    assert (config["maxmemory"], config["maxmemory-policy"]) == (str(256 * MB), "allkeys-lru")
    assert (config["tcp-backlog"], config["timeout"], config["tcp-keepalive"]) == (
        "511", "0", "300")


def test_service_is_built_here_and_wired_to_healthy_redis(compose: dict[str, Any]) -> None:
    service = compose["services"]["roleready-cache"]
    assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert (ROOT / service["build"]["dockerfile"]).is_file()
    assert service["depends_on"] == {"redis": {"condition": "service_healthy"}}
    # "redis" in the URL is the compose service name, resolvable on the shared network.
    assert service["environment"]["REDIS_URL"] == "redis://redis:6379"
    assert service["environment"]["REDIS_PASSWORD_FILE"] == "/run/secrets/redis-password"
    assert service["environment"]["CACHE_API_TOKEN_FILE"] == "/run/secrets/cache-api-token"
    assert "redis" in compose["services"]
    assert service["ports"] == ["3001:3001"]
    assert service["environment"]["PORT"] == "3001"
    assert service["networks"] == ["roleready-network"]
    healthcheck = service["healthcheck"]
    assert healthcheck["test"][:3] == ["CMD", "python", "-c"]
    assert "http://localhost:3001/health'" in healthcheck["test"][3]


def test_service_healthcheck_command_tells_up_from_down(
    compose: dict[str, Any], service_process: Callable[..., ServiceProcess]
) -> None:
    code = compose["services"]["roleready-cache"]["healthcheck"]["test"][3]
    service = service_process(REDIS_URL="")
    probe = [sys.executable, "-c", code.replace("http://localhost:3001", service.base_url)]
    assert subprocess.run(probe, capture_output=True, timeout=30, check=False).returncode == 0
    service.kill()
    assert subprocess.run(probe, capture_output=True, timeout=30, check=False).returncode != 0


def by_profile(ha: dict[str, Any], profile: str) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in ha["services"].items() if profile in svc["profiles"]}


def test_ha_profiles_are_self_contained(ha: dict[str, Any]) -> None:
    services = ha["services"]
    for name, svc in services.items():
        # One profile each: nothing starts without --profile, nothing in both.
        assert len(svc.get("profiles", [])) == 1 and set(svc["profiles"]) <= HA_PROFILES, name
        for needed, how in svc.get("depends_on", {}).items():
            assert needed in services, (name, needed)
            assert services[needed]["profiles"] == svc["profiles"], (name, needed)
            assert how["condition"] in (
                "service_started", "service_healthy", "service_completed_successfully")
        assert set(svc["networks"]) <= set(ha["networks"]), name
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith("./") and (ROOT / source).is_file() or (
                source in ha["volumes"]), (name, volume)
    assert set(by_profile(ha, "sentinel")) == {
        "redis-master", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3",
        "roleready-cache-sentinel"}
    assert set(by_profile(ha, "cluster")) == {
        *(f"redis-node-{i}" for i in range(1, 7)), "redis-cluster-create",
        "roleready-cache-cluster"}
    published = [p for svc in services.values() for p in svc.get("ports", [])]
    assert len(published) == len({p.rsplit(":", 1)[0] for p in published})  # no clash


def test_every_variable_the_services_get_is_a_setting(
    compose: dict[str, Any], ha: dict[str, Any]
) -> None:
    built = [svc for file in (compose, ha) for svc in file["services"].values() if "build" in svc]
    assert len(built) == 3
    for svc in built:
        assert set(svc["environment"]) <= VARIABLES, set(svc["environment"]) - VARIABLES
        assert svc["ports"][0].endswith(":3001") and svc["environment"]["PORT"] == "3001"


def sentinel_conf() -> list[list[str]]:
    lines = (ROOT / "deploy" / "sentinel.conf").read_text().splitlines()
    return [line.split() for line in lines if line.strip() and not line.startswith("#")]


def test_sentinel_profile_wiring(ha: dict[str, Any]) -> None:
    services = by_profile(ha, "sentinel")
    env = services["roleready-cache-sentinel"]["environment"]
    sentinels = sorted(n for n, svc in services.items() if "--sentinel" in str(svc.get("command")))
    assert env["REDIS_SENTINELS"].split(",") == [f"{n}:26379" for n in sentinels]
    assert len(sentinels) == 3
    for name in sentinels:  # each starts from its own writable copy of deploy/sentinel.conf
        assert services[name]["volumes"] == ["./deploy/sentinel.conf:/etc/redis/sentinel.conf:ro"]
        assert ("cat /etc/redis/sentinel.conf /run/secrets/sentinel-auth.conf > "
                "/data/sentinel.conf") in services[name]["command"][2]
    [monitor] = [line for line in sentinel_conf() if line[:2] == ["sentinel", "monitor"]]
    name, host, port, quorum = monitor[2:]
    assert (name, host, port) == (env["REDIS_SENTINEL_MASTER"], "redis-master", "6379")
    assert len(sentinels) // 2 < int(quorum) <= len(sentinels)
    assert ["port", "26379"] in sentinel_conf()
    replica = services["redis-replica"]["command"].split()
    assert replica[replica.index("--replicaof") + 1:][:2] == ["redis-master", "6379"]
    for node in ("redis-master", "redis-replica"):  # announced by their compose names
        flags = services[node]["command"].split()
        assert flags[flags.index("--replica-announce-ip") + 1] == node


def test_cluster_profile_wiring(ha: dict[str, Any]) -> None:
    services = by_profile(ha, "cluster")
    nodes = sorted(n for n in services if n.startswith("redis-node-"))
    assert len(nodes) == 6
    for node in nodes:
        flags = services[node]["command"].split()
        assert flags[flags.index("--cluster-enabled") + 1] == "yes"
        # Otherwise every master refuses commands while one master's slots wait.
        assert flags[flags.index("--cluster-require-full-coverage") + 1] == "no"
    create = " ".join(services["redis-cluster-create"]["command"][2].split())
    assert f"--cluster create {' '.join(f'{n}:6379' for n in nodes)}" in create
    assert create.endswith("--cluster-replicas 1 --cluster-yes")
    assert services["redis-cluster-create"]["restart"] == "no"
    seeds = services["roleready-cache-cluster"]["environment"]["REDIS_CLUSTER_NODES"].split(",")
    assert seeds and {seed.rsplit(":", 1)[0] for seed in seeds} <= set(nodes)
    assert all(seed.endswith(":6379") for seed in seeds)


def test_ha_redis_flags_and_sentinel_conf_run_on_real_servers(
    ha: dict[str, Any], redis_factory: StartServer, tmp_path: Path
) -> None:
    services = ha["services"]

    def flags(name: str, master_port: int = 0) -> list[str]:
        text = services[name]["command"].replace("redis-master 6379", f"127.0.0.1 {master_port}")
        assert text.split()[1] == AUTH_CONF, name
        return text.split()[2:]

    secrets = auth_conf(tmp_path)
    master = redis_factory(*flags("redis-master"), conf=secrets, password=PASSWORD)
    # The replica syncs only with masterauth, which only the file gives.
    replica = redis_factory(*flags("redis-replica", master.port), conf=secrets,
                            password=PASSWORD)
    # A cluster node's bus port is its port + 10000: at most 55535.
    node = redis_factory(*flags("redis-node-1"), conf=secrets, password=PASSWORD,
                         port=free_port(55535, also_free=(10000,)))
    conf = tmp_path / "sentinel.conf"
    # What the sentinels' command makes: deploy/sentinel.conf + the auth lines.
    conf.write_text((ROOT / "deploy" / "sentinel.conf").read_text().replace(
        "redis-master 6379", f"127.0.0.1 {master.port}")
        + f"sentinel auth-pass roleready {PASSWORD}\nrequirepass sentinel-pw\n"
        "sentinel sentinel-pass sentinel-pw\n")
    sentinel = redis_factory("--sentinel", conf=conf, password="sentinel-pw")
    with sentinel.client() as client:
        state = client.sentinel_master("roleready")
        # It reached the master with auth-pass: it learnt the replica from INFO.
        wait_for(lambda: len(client.sentinel_slaves("roleready")) == 1, timeout=15,
                 what="the sentinel to see the replica")
    assert (state["quorum"], state["down-after-milliseconds"]) == (2, 5000)
    with node.client() as client:
        assert client.info("cluster")["cluster_enabled"] == 1
    with replica.client() as client:
        wait_for(lambda: client.info("replication")["master_link_status"] == "up",
                 what="the replica in sync")


def test_every_service_keeps_its_outage_writes_on_a_volume_of_its_own(
    compose: dict[str, Any], ha: dict[str, Any]
) -> None:
    """CACHE_STATE_DIR is a named volume (it outlives the container), one per
    instance, at the directory the image makes for the service's user."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    sources = []
    for file in (compose, ha):
        for svc in (s for s in file["services"].values() if "build" in s):
            state_dir = svc["environment"]["CACHE_STATE_DIR"]
            (volume,) = [v for v in svc["volumes"] if v.endswith(f":{state_dir}")]
            assert volume.split(":")[0] in file["volumes"]
            assert f"-o roleready -g roleready -m 0700 {state_dir}" in dockerfile
            sources.append(volume.split(":")[0])
    assert len(sources) == len(set(sources)) == 3
