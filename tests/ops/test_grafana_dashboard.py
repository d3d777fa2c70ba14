"""deploy/grafana/roleready-cache.json: the panels on-call opens first, on
metrics that exist.

Always: the JSON is a dashboard whose panels cover what the brief of issue
16 lists (traffic, latency, hit rate by tier, the link's state, reconnects
and errors, the memory tier, invalidations, the outbox, leases), and every
metric name, label name and matched label value in its queries (panels and
template variables) is exposed by a live service's /metrics, checked by the
same code as the alert rules (tests/support/promql.py). When promtool is
installed, every query is also parsed by Prometheus itself (as recording
rules, Grafana's variables replaced by sample values).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from tests.ops.conftest import ROOT
from tests.support.promql import live_metrics, metric_names, problems
from tests.support.waiting import ready_client

DASHBOARD = ROOT / "deploy" / "grafana" / "roleready-cache.json"
PROMTOOL = shutil.which("promtool")
# What the on-call engineer opens first: each must be charted by some panel.
REQUIRED = {
    "request rate and status": "roleready_http_request_duration_seconds_count",
    "latency": "roleready_http_request_duration_seconds_bucket",
    "hit rate by tier": "roleready_cache_lookups_total",
    "Redis link state": "roleready_redis_connection_state",
    "reconnects": "roleready_redis_reconnects_total",
    "errors": "roleready_redis_errors_total",
    "memory-tier size": "roleready_memory_cache_entries",
    "memory-tier bytes": "roleready_memory_cache_bytes",
    "invalidations": "roleready_cache_invalidations_received_total",
    "outbox": "roleready_cache_outbox_keys",
    "leases": "roleready_leases_issued_total",
}
# Grafana's variables, replaced by values Prometheus can parse.
VARIABLES = {"$__rate_interval": "1m", "$job": "roleready-cache", "$instance": ".*"}


def dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text())
    assert isinstance(loaded, dict)
    return loaded


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))  # a collapsed row keeps its panels


def queries() -> dict[str, str]:
    """Every PromQL expression: `<panel title> #<n>` or `variable <name>`."""
    found = {}
    document = dashboard()
    for panel in panels(document["panels"]):
        for number, target in enumerate(panel.get("targets", [])):
            found[f"{panel['title']} #{number}"] = target["expr"]
    for variable in document["templating"]["list"]:
        if variable["type"] == "query":
            found[f"variable {variable['name']}"] = variable["query"]["query"]
    return found


def test_the_panels_cover_what_on_call_opens_first() -> None:
    document = dashboard()
    assert document["uid"] and document["title"]
    ids = [panel["id"] for panel in panels(document["panels"])]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    charted = set().union(*(metric_names(query) for query in queries().values()))
    missing = {need: metric for need, metric in REQUIRED.items() if metric not in charted}
    assert not missing, f"no panel charts {missing}"
    for panel in panels(document["panels"]):
        if panel["type"] != "row":
            assert panel["targets"] and panel["description"].strip(), panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


async def test_every_query_uses_metrics_a_live_service_exposes(
    app_client: Callable[..., Awaitable[TestClient]], redis_server: RedisServer
) -> None:
    exposed = await live_metrics(await ready_client(app_client, redis_server.url))
    found = {name: problems(query, exposed) for name, query in queries().items()}
    assert not {name: listed for name, listed in found.items() if listed}


@pytest.mark.skipif(PROMTOOL is None,
                    reason="promtool not installed (Debian: apt-get install prometheus)")
def test_promtool_parses_every_query(tmp_path: Path) -> None:
    rules = []
    for number, query in enumerate(queries().values()):
        if query.startswith("label_values("):  # Grafana's own function, not PromQL
            query = query.removeprefix("label_values(").rsplit(",", 1)[0]
        for variable, value in VARIABLES.items():
            query = query.replace(variable, value)
        rules.append({"record": f"dashboard:query_{number}", "expr": query})
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert PROMTOOL is not None
    result = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
