"""The README's one-minute tour, run as written against `scripts/run`.

Each ```console block after a `<!-- tour: MODE -->` marker holds commands
(`$ ` lines, `\\` continuing them) and the output each must print; `...` in
an expected line stands for any text (a time, an ETag). The blocks of a mode
run in order against `scripts/run` started as a newcomer would (only PORT,
a free one in place of 3001, and REDIS_URL set): `redis` with a Redis of
the test's own, `memory-only` with REDIS_URL empty.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.harness.redis_server import RedisServer
from scripts.harness.service_process import ServiceProcess, http_get
from scripts.harness.waiting import wait_for
from tests.support.markdown import ROOT, blocks

README = ROOT / "README.md"
DOCUMENTED_PORT = "3001"
COMMAND_TIMEOUT_S = 10

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(shutil.which("curl") is None, reason="the tour's commands use curl"),
]


@dataclass(frozen=True)
class Step:
    command: str
    expected: list[str]


def tour(mode: str) -> list[Step]:
    steps: list[Step] = []
    for block in blocks(README.read_text(encoding="utf-8")):
        if block.marker != f"tour: {mode}":
            continue
        assert block.language == "console", block
        lines = block.body.splitlines()
        while lines:
            assert lines[0].startswith("$ "), f"a tour block must start with a command: {lines[0]}"
            command = [lines.pop(0)[2:]]
            while command[-1].endswith("\\"):
                command.append(lines.pop(0))
            expected = []
            while lines and not lines[0].startswith("$ "):
                expected.append(lines.pop(0))
            steps.append(Step("\n".join(command), expected))
    return steps


def matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, actual) is not None


def run_tour(mode: str, service: ServiceProcess) -> None:
    steps = tour(mode)
    assert steps, f"README.md has no `tour: {mode}` blocks"
    for step in steps:
        command = step.command.replace(f"localhost:{DOCUMENTED_PORT}", f"localhost:{service.port}")
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S, check=False, cwd=ROOT)
        actual = [line.rstrip() for line in done.stdout.splitlines()]
        while actual and not actual[-1]:
            actual.pop()
        shown = "\n".join(actual)
        assert done.returncode == 0, f"{step.command}\nexit {done.returncode}: {done.stderr}"
        assert len(actual) == len(step.expected), f"{step.command}\nprinted:\n{shown}"
        for want, got in zip(step.expected, actual, strict=True):
            assert matches(want, got), f"{step.command}\nexpected {want!r}, printed:\n{shown}"


def start_scripts_run(tmp_path: Path, redis_url: str) -> ServiceProcess:
    return ServiceProcess({"REDIS_URL": redis_url}, tmp_path / "service.log",
                          command=[str(ROOT / "scripts" / "run")]).start()


def _healthy(service: ServiceProcess) -> bool:
    # Asking wakes the lazy link; the README says a first answer may be `connecting`.
    status, body = http_get(service.base_url + "/health/detailed")
    return status == 200 and json.loads(body)["status"] == "healthy"


def test_the_tour_with_redis(redis_server: RedisServer, tmp_path: Path) -> None:
    service = start_scripts_run(tmp_path, redis_server.url)
    try:
        wait_for(lambda: _healthy(service), what="the first connect to Redis")
        run_tour("redis", service)
    finally:
        service.terminate()


def test_the_tour_without_redis(tmp_path: Path) -> None:
    service = start_scripts_run(tmp_path, "")
    try:
        run_tour("memory-only", service)
    finally:
        service.terminate()


def test_the_comparison_can_fail() -> None:
    assert matches('Etag: "..."', 'Etag: "5a0a83895163beb0"')
    assert not matches("X-Cache-Stored: redis", "X-Cache-Stored: memory")
    assert [len(s.expected) for s in tour("memory-only")][0] == 2
