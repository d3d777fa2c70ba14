"""docker-compose.yml, Dockerfile and .dockerignore, checked without a Docker engine.

The compose file is parsed with PyYAML and compared with the guide flag for
flag; the Redis command line is also run by a real redis-server (so a
misspelt flag fails here, not in production), and the service's healthcheck
command is run against the real service.
"""

from __future__ import annotations

import configparser
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.ops.conftest import ROOT, StartServer
from tests.support.service_process import ServiceProcess

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


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


def test_redis_service_is_the_guides_flag_for_flag(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    assert redis["image"] == "redis:7-alpine"
    assert redis["container_name"] == "roleready-redis"
    assert redis["restart"] == "unless-stopped"
    assert redis["ports"] == ["6379:6379"]
    assert redis["command"].split() == GUIDE_REDIS_COMMAND
    assert redis["volumes"] == ["redis-data:/data"]
    assert redis["healthcheck"] == {
        "test": ["CMD", "redis-cli", "ping"], "interval": "30s", "timeout": "3s", "retries": 3,
    }
    assert redis["networks"] == ["roleready-network"]
    assert compose["volumes"] == {"redis-data": {"driver": "local"}}
    assert compose["networks"] == {"roleready-network": {"driver": "bridge"}}


def test_redis_command_is_accepted_by_a_real_redis_server(
    compose: dict[str, Any], redis_factory: StartServer
) -> None:
    flags = compose["services"]["redis"]["command"].split()[1:]
    with redis_factory(*flags).client() as client:
        config = client.config_get("*")
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


def test_dockerfile_installs_the_package_and_runs_it_unprivileged() -> None:
    steps = dockerfile()
    assert steps[0] == ("FROM", "python:3.11-slim")
    assert any(kind == "RUN" and args.startswith("pip install .") for kind, args in steps)
    assert ("EXPOSE", "3001") in steps
    users = [i for i, (kind, _) in enumerate(steps) if kind == "USER"]
    assert users and steps[users[-1]][1] not in ("root", "0")
    last_run = max(i for i, (kind, _) in enumerate(steps) if kind == "RUN")
    assert users[-1] > last_run  # installs as root, serves as the unprivileged user
    [cmd] = [args for kind, args in steps if kind == "CMD"]
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    assert json.loads(cmd) == ["roleready-cache"]
    assert "roleready-cache = service.__main__:main" in setup["options.entry_points"][
        "console_scripts"]


def test_dockerfile_copies_everything_pip_install_needs() -> None:
    copied = {src for kind, args in dockerfile() if kind == "COPY" for src in args.split()[:-1]}
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    packages = {p.split(".")[0] for p in setup["options.packages.find"]["include"].split()}
    readme = setup["metadata"]["long_description"].removeprefix("file:").strip()
    assert {"pyproject.toml", "setup.cfg", readme} | packages <= copied
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "tests"} <= set(ignored)
    assert not copied & set(ignored)
