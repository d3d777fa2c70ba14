"""Talk to Redis through redis-cli for the ops scripts (backup, restore, check).

Shared by scripts/backup-redis, scripts/restore-redis and
scripts/check-production. redis-cli is the tool operators already trust on a
Redis host, and it reads the password from the REDISCLI_AUTH environment
variable, so a secret never appears on a command line (where `ps` would show
it) nor in anything these scripts print. Standard library only: the scripts
must run on a Redis host that has no project virtualenv.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

AUTH_ENV = "REDISCLI_AUTH"
DEFAULT_CALL_TIMEOUT_S = 10.0

# Exit codes shared by the three scripts (argparse itself exits 2 on bad usage).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_TIMEOUT = 4


class OpsError(Exception):
    """A failure explained for the operator, with the exit code it maps to."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Endpoint:
    """Where a Redis server is and how to reach it; the password never prints."""

    host: str = "127.0.0.1"
    port: int = 6379
    user: str | None = None
    tls: bool = False
    cacert: str | None = None
    insecure: bool = False
    socket: str | None = None
    password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        if self.socket:
            return f"unix:{self.socket}"
        scheme = "rediss" if self.tls else "redis"
        user = f"{self.user}@" if self.user else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def add_connection_arguments(
    parser: argparse.ArgumentParser, environ: Mapping[str, str]
) -> None:
    """--host/--port/--user/--tls/--cacert; the password comes from REDISCLI_AUTH only."""
    group = parser.add_argument_group(
        "connection (password: set REDISCLI_AUTH in the environment, never a flag)"
    )
    group.add_argument("--host", default=environ.get("REDIS_HOST", "127.0.0.1"),
                       help="Redis host (env REDIS_HOST, default 127.0.0.1)")
    group.add_argument("--port", type=int, default=environ.get("REDIS_PORT", "6379"),
                       help="Redis port (env REDIS_PORT, default 6379)")
    group.add_argument("--user", default=environ.get("REDIS_USER") or None,
                       help="ACL user name (env REDIS_USER; default: the default user)")
    group.add_argument("--tls", action="store_true", default=env_flag(environ, "REDIS_TLS"),
                       help="connect with TLS (env REDIS_TLS=true)")
    group.add_argument("--cacert", default=environ.get("REDIS_TLS_CA_FILE") or None,
                       help="CA bundle for TLS (env REDIS_TLS_CA_FILE)")


def endpoint_from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> Endpoint:
    return Endpoint(
        host=args.host, port=args.port, user=args.user, tls=args.tls,
        cacert=args.cacert, password=environ.get(AUTH_ENV) or None,
    )


def redis_cli_binary() -> str:
    path = shutil.which("redis-cli")
    if path is None:
        raise OpsError("redis-cli is not on PATH (Debian: apt-get install redis-tools)")
    return path


class RedisCli:
    """Runs `redis-cli -e ...` against one endpoint and returns its raw output."""

    def __init__(self, endpoint: Endpoint, timeout: float = DEFAULT_CALL_TIMEOUT_S) -> None:
        self.endpoint = endpoint
        self.timeout = timeout

    def base_args(self, *, authenticated: bool = True) -> list[str]:
        # -e: without it redis-cli exits 0 even when the server answers an error.
        ep = self.endpoint
        args = [redis_cli_binary(), "-e"]
        args += ["-s", ep.socket] if ep.socket else ["-h", ep.host, "-p", str(ep.port)]
        if ep.user and authenticated:
            args += ["--user", ep.user]
        if ep.tls:
            args.append("--tls")
            args += ["--cacert", ep.cacert] if ep.cacert else []
            args += ["--insecure"] if ep.insecure else []
        return args

    def environment(self, *, authenticated: bool = True) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != AUTH_ENV}
        if authenticated and self.endpoint.password:
            env[AUTH_ENV] = self.endpoint.password
        return env

    def run(self, *command: str, timeout: float | None = None,
            authenticated: bool = True) -> str:
        """The command's reply as text; OpsError on an error reply or no connection."""
        limit = self.timeout if timeout is None else timeout
        try:
            done = subprocess.run(
                [*self.base_args(authenticated=authenticated), *command],
                env=self.environment(authenticated=authenticated),
                capture_output=True, text=True, timeout=limit, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise OpsError(
                f"{command[0]} to {self.endpoint.describe()} got no answer within {limit:g}s",
                EXIT_TIMEOUT,
            ) from exc
        if done.returncode != 0:
            raise self._error(command[0], done)
        return done.stdout.strip()

    def _error(self, name: str, done: subprocess.CompletedProcess[str]) -> OpsError:
        text = " ".join((done.stderr + " " + done.stdout).split()) or f"exit {done.returncode}"
        if "Could not connect" in text or "Connection refused" in text:
            return OpsError(f"cannot connect to {self.endpoint.describe()}: {text}",
                            EXIT_UNREACHABLE)
        if "NOAUTH" in text or "WRONGPASS" in text:
            return OpsError(f"{self.endpoint.describe()} refused authentication: {text} "
                            f"(set {AUTH_ENV})", EXIT_UNREACHABLE)
        return OpsError(f"{name} on {self.endpoint.describe()} failed: {text}")

    def info(self, *sections: str, timeout: float | None = None) -> dict[str, str]:
        return parse_info(self.run("INFO", *sections, timeout=timeout))

    def config_get(self, name: str) -> str:
        # Raw output is "name\nvalue"; an empty value leaves only the name.
        lines = self.run("CONFIG", "GET", name).splitlines()
        if not lines:
            raise OpsError(f"CONFIG GET {name} returned nothing on {self.endpoint.describe()}")
        return lines[1] if len(lines) > 1 else ""

    def config_set(self, name: str, value: str) -> None:
        self.run("CONFIG", "SET", name, value)

    def fetch_rdb(self, target: str, timeout: float) -> None:
        """`redis-cli --rdb`: the server streams a fresh snapshot to this machine."""
        self.run("--rdb", target, timeout=timeout)


def parse_info(text: str) -> dict[str, str]:
    """INFO's `key:value` lines as a dict (section headers and blanks skipped)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and not key.startswith("#"):
            fields[key] = value
    return fields


def poll(check: Callable[[], dict[str, str] | None], deadline: float, what: str,
         interval: float = 0.05) -> dict[str, str]:
    """Call `check` until it returns a value or the monotonic `deadline` passes."""
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise OpsError(f"timed out waiting for {what}", EXIT_TIMEOUT)
        time.sleep(interval)


def remaining(deadline: float, floor: float = 1.0) -> float:
    """Seconds left before `deadline`, but never less than `floor` for one call."""
    return max(deadline - time.monotonic(), floor)


def report_progress(prog: str, steps: Callable[[], Iterable[str]]) -> int:
    """Print each progress line of a command as `prog: line`; turn its failures
    into one `prog: error: ...` line on stderr and the matching exit code."""
    try:
        for line in steps():
            print(f"{prog}: {line}", flush=True)
    except OpsError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.code
    except OSError as exc:  # unwritable backup dir, full disk, permissions
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
