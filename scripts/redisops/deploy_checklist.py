"""check-production --deploy-files: are the deployment files safe as written?

Reads the files a checkout ships (or an operator's edited copies in the same
layout) and judges what would be exposed if they were used as they are:

    deploy.redis-exposed   compose Redis/Sentinel ports published on 127.0.0.1 only
    deploy.redis-auth      every compose redis-server needs a password from a secret
                           file (none on a command line); every sentinel gets
                           its auth lines from one
    deploy.service-token   every compose service built here has a token file and
                           the Redis password file, and no CACHE_API_AUTH=none
    deploy.systemd-token   the unit and its environment file name a token (no
                           empty CACHE_API_TOKEN on a network HOST)
    deploy.kubernetes-token  the ConfigMap names a token file

Pure functions of parsed files, like checklist.py's items. Compose and
Kubernetes files are YAML: without PyYAML those items are a WARN saying so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from scripts.redisops.checklist import FAIL, PASS, WARN, Result

COMPOSE_FILES = ("docker-compose.yml", "docker-compose.ha.yml")
SECRETS_DIR = "/run/secrets/"
TOKEN_FILES = ("CACHE_API_TOKEN_FILE", "CACHE_API_TOKENS_FILE")
Services = dict[str, dict[str, Any]]


def _yaml(path: Path) -> Any:
    import yaml  # only here: the rest of check-production needs no third-party module

    return yaml.safe_load(path.read_text())


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _command(service: Mapping[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def _redis_services(services: Services) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """(name, service, command) of each service running redis-server."""
    for name, service in services.items():
        command = _command(service)
        if "redis-server" in command:
            yield name, service, command


def redis_exposed(files: Mapping[str, Services]) -> Result:
    open_ports = [
        f"{file}: {name} publishes {port}"
        for file, services in files.items() for name, service, _ in _redis_services(services)
        for port in service.get("ports", [])
        if str(port).count(":") < 2 or not _loopback(str(port).rsplit(":", 2)[0])
    ]
    if open_ports:
        return Result(FAIL, "deploy.redis-exposed", "; ".join(open_ports))
    return Result(PASS, "deploy.redis-exposed", "Redis ports on 127.0.0.1 only, or none")


def redis_auth(files: Mapping[str, Services]) -> Result:
    problems = []
    for file, services in files.items():
        for name, service, command in _redis_services(services):
            if "--requirepass" in command or "--masterauth" in command:
                problems.append(f"{file}: {name} has a password on its command line")
            elif SECRETS_DIR not in command or not service.get("secrets"):
                kind = "sentinel auth lines" if "--sentinel" in command else "requirepass"
                problems.append(f"{file}: {name} gets no {kind} from a secret file")
    if problems:
        return Result(FAIL, "deploy.redis-auth", "; ".join(problems))
    return Result(PASS, "deploy.redis-auth", "every redis-server and sentinel needs a password "
                                             "from a secret file")


def service_token(files: Mapping[str, Services]) -> Result:
    problems = []
    for file, services in files.items():
        for name, service in services.items():
            if "build" not in service:
                continue
            env = service.get("environment", {})
            if str(env.get("CACHE_API_AUTH", "")).lower() == "none":
                problems.append(f"{file}: {name} has CACHE_API_AUTH=none")
            elif not any(env.get(v) for v in TOKEN_FILES):
                problems.append(f"{file}: {name} has no CACHE_API_TOKEN_FILE or "
                                "CACHE_API_TOKENS_FILE")
            if not env.get("REDIS_PASSWORD_FILE"):
                problems.append(f"{file}: {name} has no REDIS_PASSWORD_FILE")
    if problems:
        return Result(FAIL, "deploy.service-token", "; ".join(problems))
    return Result(PASS, "deploy.service-token", "every service has a token file and the Redis "
                                                "password file")


def _assignments(text: str, prefix: str = "") -> dict[str, str]:
    """NAME=value lines (after `prefix`, e.g. "Environment="), comments skipped."""
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(prefix) and not line.startswith("#"):
            name, sep, value = line[len(prefix):].partition("=")
            if sep:
                found[name.strip()] = value.strip()
    return found


def systemd_token(unit: str, env_file: str) -> Result:
    settings = {**_assignments(unit, "Environment="), **_assignments(env_file)}
    host = settings.get("HOST", "0.0.0.0")
    if settings.get("CACHE_API_AUTH", "").lower() == "none":
        return Result(FAIL, "deploy.systemd-token", "CACHE_API_AUTH=none")
    if any(settings.get(v) for v in ("CACHE_API_TOKEN", *TOKEN_FILES)) or _loopback(host):
        return Result(PASS, "deploy.systemd-token", f"HOST={host} with a token")
    empty = " (CACHE_API_TOKEN is empty)" if "CACHE_API_TOKEN" in settings else ""
    return Result(FAIL, "deploy.systemd-token", f"HOST={host} and no token{empty}")


def kubernetes_token(configmap: Mapping[str, Any]) -> Result:
    data = configmap.get("data", {})
    if str(data.get("CACHE_API_AUTH", "")).lower() == "none" or not any(
            data.get(v) for v in TOKEN_FILES):
        return Result(FAIL, "deploy.kubernetes-token",
                      "the ConfigMap names no CACHE_API_TOKEN_FILE or CACHE_API_TOKENS_FILE")
    return Result(PASS, "deploy.kubernetes-token", "the ConfigMap names a token file")


def results(root: Path) -> list[Result]:
    """Every deploy item for the files under `root` (a checkout's layout)."""
    systemd = root / "deploy" / "systemd"
    found = [systemd_token((systemd / "roleready-cache.service").read_text(),
                           (systemd / "roleready-cache.env").read_text())]
    try:
        files = {name: _yaml(root / name)["services"] for name in COMPOSE_FILES}
        configmap = _yaml(root / "deploy" / "kubernetes" / "configmap.yaml")
    except ImportError:
        why = "not checked: reading YAML needs PyYAML (pip install pyyaml)"
        names = ("redis-exposed", "redis-auth", "service-token", "kubernetes-token")
        return [*(Result(WARN, f"deploy.{n}", why) for n in names), *found]
    return [redis_exposed(files), redis_auth(files), service_token(files),
            kubernetes_token(configmap), *found]
