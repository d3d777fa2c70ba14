"""deploy/prometheus/alerts.yml: the guide's five alerts, on metrics that exist.

Always: the YAML has the five alerts with their `for` durations, labels and
annotations, and every metric name (and label value matched) in the rules is
exposed by a live service's /metrics. When promtool is installed: `promtool
check rules`, and promtool unit tests that make each alert fire (and its
guards keep it quiet) on synthetic series. Without promtool those two are
reported as skipped, never passed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.ops.conftest import ROOT
from tests.support.redis_server import RedisServer
from tests.support.waiting import ready_client

RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian: apt-get install prometheus)"
)

# alert -> (for, the guide's "Action" as the runbook)
GUIDE_ALERTS = {
    "RoleReadyRedisNotReady": ("5m", "Check Redis server, network, credentials."),
    "RoleReadyCacheHitRateLow": ("1h", "Review cache TTLs, check if cache is being used."),
    "RoleReadyRedisErrorsHigh": ("0m", "Check Redis logs, connection issues."),
    "RoleReadyRedisReconnectAttemptsHigh": ("0m", "Investigate connection stability."),
    "RoleReadyRedisMemoryHigh": ("5m", "Increase Redis memory or review eviction policy."),
}
# The thresholds of the guide, as they must appear in each expression.
GUIDE_THRESHOLDS = {
    "RoleReadyRedisNotReady": ["roleready_redis_up == 0", "roleready_redis_enabled == 1"],
    "RoleReadyCacheHitRateLow": ["< 0.70", "roleready_cache_lookups_total"],
    "RoleReadyRedisErrorsHigh": ["increase(roleready_redis_errors_total[5m]) > 100"],
    "RoleReadyRedisReconnectAttemptsHigh": ["roleready_redis_reconnect_attempts > 5"],
    "RoleReadyRedisMemoryHigh": ["> 0.80", "roleready_redis_maxmemory_bytes > 0"],
}
METRIC = re.compile(r"\broleready_[A-Za-z0-9_]+")
SELECTOR = re.compile(r"\b(roleready_[A-Za-z0-9_]+)\{([^}]*)\}")
MATCHER = re.compile(r'(\w+)\s*(=~|=)\s*"([^"]*)"')


def alerts() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule for group in document["groups"] for rule in group["rules"]}


def test_the_guide_s_five_alerts_exist_with_their_durations_and_runbooks() -> None:
    rules = alerts()
    assert set(rules) == set(GUIDE_ALERTS)
    for name, (duration, action) in GUIDE_ALERTS.items():
        rule = rules[name]
        assert rule["for"] == duration, name
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["annotations"]["runbook"] == action, name
        assert rule["annotations"]["summary"].strip(), name
        assert rule["annotations"]["description"].strip(), name
        for needle in GUIDE_THRESHOLDS[name]:
            assert needle in " ".join(rule["expr"].split()), (name, needle)


async def test_every_metric_in_the_rules_is_exposed_by_a_live_service(
    app_client: Callable[..., Awaitable[TestClient]], redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url)
    await client.put("/cache/default/k", data=b"v")
    await client.get("/cache/default/k")
    response = await client.get("/metrics")
    assert response.status == 200
    exposed: dict[str, set[tuple[str, str]]] = {}
    for family in text_string_to_metric_families(await response.text()):
        exposed.setdefault(family.name, set())
        for sample in family.samples:
            exposed.setdefault(sample.name, set()).update(sample.labels.items())
    for name, rule in alerts().items():
        text = rule["expr"] + " ".join(rule["annotations"].values())
        used = set(METRIC.findall(text))
        assert used, name
        assert used <= set(exposed), f"{name} uses metrics /metrics lacks: {used - set(exposed)}"
        for metric, matchers in SELECTOR.findall(rule["expr"]):
            for label, op, value in MATCHER.findall(matchers):
                wanted = value.split("|") if op == "=~" else [value]
                missing = {v for v in wanted if (label, v) not in exposed[metric]}
                assert not missing, f"{name}: {metric} has no {label} value(s) {missing}"


@needs_promtool
def test_promtool_check_rules_accepts_the_file() -> None:
    result = run_promtool("check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout


@needs_promtool
def test_promtool_unit_tests_fire_each_alert_and_keep_its_guards_quiet(tmp_path: Path) -> None:
    # The semantics (expr, for, labels) on a copy without annotations, so the
    # expectations need not repeat every rendered text; then the real file,
    # rendered in full, for the one alert whose annotation runs a query.
    stripped = yaml.safe_load(RULES.read_text())
    for group in stripped["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations")
    (tmp_path / "stripped.yml").write_text(yaml.safe_dump(stripped))
    semantics = unit_file(tmp_path / "stripped.yml", SEMANTIC_CASES)
    rendered = unit_file(RULES, [RENDERED_CASE])
    result = run_promtool("test", "rules", write(tmp_path / "semantics.yml", semantics),
                          write(tmp_path / "rendered.yml", rendered))
    assert result.returncode == 0, result.stdout + result.stderr


def run_promtool(*args: object) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True,
                          timeout=30, check=False)


def unit_file(rules: Path, cases: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": cases}


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def series(name: str, instance: str, values: str, **labels: str) -> dict[str, str]:
    extra = "".join(f', {key}="{value}"' for key, value in labels.items())
    return {"series": f'{name}{{job="rr", instance="{instance}"{extra}}}', "values": values}


def expect(alert: str, at: str, *instances: str, severity: str = "warning") -> dict[str, Any]:
    return {"eval_time": at, "alertname": alert, "exp_alerts": [
        {"exp_labels": {"severity": severity, "job": "rr", "instance": instance}}
        for instance in instances
    ]}


def lookups(instance: str, memory: int, redis: int, miss: int) -> list[dict[str, str]]:
    """Counters growing by the given lookups per minute for 90 minutes."""
    return [series("roleready_cache_lookups_total", instance, f"0+{per_minute}x90", result=result)
            for result, per_minute in (("hit_memory", memory), ("hit_redis", redis),
                                       ("miss", miss))]


SEMANTIC_CASES: list[dict[str, Any]] = [
    {  # not ready > 5m; memory-only instances and a flapping link stay quiet
        "interval": "1m",
        "input_series": [
            series("roleready_redis_up", "down", "0x10"),
            series("roleready_redis_enabled", "down", "1x10"),
            series("roleready_redis_up", "memory-only", "0x10"),
            series("roleready_redis_enabled", "memory-only", "0x10"),
            series("roleready_redis_up", "flapping", "0 0 0 0 1 0 0 0 0 0 0"),
            series("roleready_redis_enabled", "flapping", "1x10"),
            series("roleready_redis_up", "up", "1x10"),
            series("roleready_redis_enabled", "up", "1x10"),
        ],
        "alert_rule_test": [
            expect("RoleReadyRedisNotReady", "4m", severity="critical"),
            expect("RoleReadyRedisNotReady", "6m", "down", severity="critical"),
            expect("RoleReadyRedisNotReady", "10m", "down", "flapping", severity="critical"),
        ],
    },
    {  # hit rate < 70% for an hour; idle and nearly idle instances stay quiet
        "interval": "1m",
        "input_series": [
            *lookups("cold", memory=20, redis=10, miss=60),
            *lookups("warm", memory=80, redis=10, miss=10),
            *lookups("idle", memory=0, redis=0, miss=0),
            *lookups("trickle", memory=0, redis=0, miss=1),
        ],
        "alert_rule_test": [
            expect("RoleReadyCacheHitRateLow", "50m"),
            expect("RoleReadyCacheHitRateLow", "75m", "cold"),
        ],
    },
    {  # > 100 errors in 5m; a slower stream and a counter reset stay quiet
        "interval": "1m",
        "input_series": [
            series("roleready_redis_errors_total", "storm", "0+30x10"),
            series("roleready_redis_errors_total", "drizzle", "0+10x10"),
            series("roleready_redis_errors_total", "restarted", "900 950 0 5 10 15 20 25 30"),
        ],
        "alert_rule_test": [expect("RoleReadyRedisErrorsHigh", "8m", "storm")],
    },
    {  # reconnect attempts > 5
        "interval": "1m",
        "input_series": [
            series("roleready_redis_reconnect_attempts", "unstable", "6x3"),
            series("roleready_redis_reconnect_attempts", "retrying", "5x3"),
        ],
        "alert_rule_test": [expect("RoleReadyRedisReconnectAttemptsHigh", "1m", "unstable")],
    },
    {  # used > 80% of maxmemory for 5m; unlimited (0) and 50% stay quiet
        "interval": "1m",
        "input_series": [
            series("roleready_redis_used_memory_bytes", "full", "90x10"),
            series("roleready_redis_maxmemory_bytes", "full", "100x10"),
            series("roleready_redis_used_memory_bytes", "unlimited", "90x10"),
            series("roleready_redis_maxmemory_bytes", "unlimited", "0x10"),
            series("roleready_redis_used_memory_bytes", "half", "50x10"),
            series("roleready_redis_maxmemory_bytes", "half", "100x10"),
        ],
        "alert_rule_test": [
            expect("RoleReadyRedisMemoryHigh", "4m"),
            expect("RoleReadyRedisMemoryHigh", "6m", "full"),
        ],
    },
]

RENDERED_CASE: dict[str, Any] = {
    "interval": "1m",
    "input_series": [
        series("roleready_redis_up", "a:3001", "0x10"),
        series("roleready_redis_enabled", "a:3001", "1x10"),
        series("roleready_redis_connection_state", "a:3001", "1x10",
               roleready_redis_connection_state="reconnecting"),
        series("roleready_redis_connection_state", "a:3001", "0x10",
               roleready_redis_connection_state="ready"),
    ],
    "alert_rule_test": [{
        "eval_time": "6m",
        "alertname": "RoleReadyRedisNotReady",
        "exp_alerts": [{
            "exp_labels": {"severity": "critical", "job": "rr", "instance": "a:3001"},
            "exp_annotations": {
                "summary": "Redis link of a:3001 not ready for more than 5 minutes",
                "description": (
                    'The Redis connection of a:3001 (job rr) has not been in state "ready" '
                    "for over 5 minutes; the instance is serving from its memory tier only "
                    "(no shared cache, more recomputation). Current state: reconnecting. "
                    "Details: GET /health/detailed (.checks.redis.lastError) and "
                    "/health/events."
                ),
                "runbook": "Check Redis server, network, credentials.",
            },
        }],
    }],
}
