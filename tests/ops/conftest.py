"""Fixtures for the ops tests: run scripts/* as an operator would.

Scripts run as child processes from the checkout (their shebang, their exit
code, their output), with an environment scrubbed of the variables they
read, so the machine's settings (or its Redis on 6379) never leak in.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from scripts.harness.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
REDIS_CONF = ROOT / "deploy" / "redis.conf"
SCRIPT_TIMEOUT_S = 60
SCRUBBED = (
    "REDISCLI_AUTH", "REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_USER", "REDIS_TLS",
    "REDIS_TLS_CA_FILE", "REDIS_TLS_REJECT_UNAUTHORIZED", "BACKUP_DIR", "RETENTION_DAYS",
    "BACKUP_TIMEOUT_S", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_PASSWORD",
    "REDIS_SENTINEL_PASSWORD_FILE", "HOST", "CACHE_API_TOKEN", "CACHE_API_TOKEN_FILE",
    "CACHE_API_TOKENS_FILE", "CACHE_API_AUTH",
)

RunScript = Callable[..., subprocess.CompletedProcess[str]]
StartServer = Callable[..., RedisServer]  # the redis_factory fixture


def run(name: str, *args: object, env: Mapping[str, str] | None = None,
        path_prefix: Path | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    if path_prefix is not None:
        environ["PATH"] = f"{path_prefix}{os.pathsep}{environ.get('PATH', '')}"
    environ.update(env or {})
    return subprocess.run(
        [str(SCRIPTS / name), *map(str, args)], env=environ, capture_output=True,
        text=True, timeout=SCRIPT_TIMEOUT_S, check=False,
    )


@pytest.fixture
def run_script() -> RunScript:
    return run
