"""The Node client's own tests (node --test, clients/node/test/) against the
same real processes: the fleet with Redis up, then the instance whose Redis
was killed. node's exit code is this test's verdict, so the Node client's
result is part of the suite's (scripts/test makes sure node >= 18 exists)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.conftest import TOKEN, Instances

pytestmark = pytest.mark.redis
NODE_CLIENT = Path(__file__).resolve().parents[2] / "clients" / "node"
NODE_TIMEOUT_S = 60


@pytest.mark.slow  # ~6 s of node here, plus the instances' start when it runs first
def test_node_client(instances: Instances) -> None:
    """Every file of clients/node/test/: redis-up (the fleet), redis-down (the
    instance without Redis) and unit, in one node run (each run costs a second).
    Node runs files side by side on machines with more cores: each uses keys
    of its own, the purge test its own namespace, and only the degraded file
    uses the instance that allows one request in progress (all checked with
    --test-concurrency=4)."""
    node = shutil.which("node")
    assert node is not None, "node is not on PATH (scripts/test installs it)"
    files = sorted(str(path) for path in (NODE_CLIENT / "test").glob("*/*.test.js"))
    assert len(files) >= 6, f"Node tests missing: {files}"
    env = {"ROLEREADY_URLS": ",".join(instances.fleet.urls), "ROLEREADY_TOKEN": TOKEN,
           "ROLEREADY_DOWN_URL": instances.down.urls[0]}
    finished = subprocess.run([node, "--test", "--test-reporter=tap", *files], cwd=NODE_CLIENT,
                              capture_output=True, text=True, timeout=NODE_TIMEOUT_S, env={**os.environ, **env})
    assert finished.returncode == 0, f"node --test failed:\n{finished.stdout}\n{finished.stderr}"
    # TAP (the reporter is named: newer nodes default to another one)
    assert "# fail 0" in finished.stdout and "# pass 0" not in finished.stdout, finished.stdout


