"""Start-up against the real process: a CACHE_KEY_PREFIX holding key syntax
stops it with one line, and a password given as a REDIS_URL query parameter
is shown redacted in the start-up log and /api/status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

from scripts.harness.ports import free_port
from scripts.harness.service_process import ServiceProcess, http_get

SECRET = "hunter2-query"


def test_a_prefix_with_key_syntax_stops_start_up_with_one_line() -> None:
    env = {**os.environ, "CACHE_KEY_PREFIX": "team:a", "REDIS_URL": "", "PORT": str(free_port())}
    done = subprocess.run([sys.executable, "-m", "service"], env=env, capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "CACHE_KEY_PREFIX" in lines[0] and "':'" in lines[0], lines


def test_a_query_password_is_redacted_wherever_the_url_is_shown(
    service_process: Callable[..., ServiceProcess],
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0?password={SECRET}&sentinel_password={SECRET}"
    service = service_process(REDIS_URL=url)
    status, body = http_get(service.base_url + "/api/status")
    assert status == 200
    shown = json.loads(body)["redis"]["url"]
    assert SECRET not in shown and "password=***" in shown
    assert SECRET not in service.log() and "password=***" in service.log()
