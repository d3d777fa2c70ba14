"""deploy/prometheus/alerts.yml: the guide's five alerts and six more
(the service down, Redis evicting, the 5xx ratio, p99 latency of the cache
routes, overload, replica confirmations stalled), on metrics that exist.

Always: the YAML has the eleven alerts with their `for` durations, labels and
annotations, each with a runbook_url naming its one section in
docs/operations.md, and every metric name (and label name and value
matched) in the rules is exposed by a live service's /metrics
(tests/support/promql.py, shared with the Grafana dashboard's test). When
promtool is installed: `promtool check rules`, and promtool unit tests that
make each alert fire (and its guards keep it quiet) on synthetic series,
some of them per worker (WORKERS > 1). Without promtool those two are
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

from scripts.harness.redis_server import RedisServer
from tests.ops.conftest import ROOT
from tests.support.promql import live_metrics, metric_names, problems
from tests.support.waiting import ready_client

RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
OPERATIONS = ROOT / "docs" / "operations.md"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian: apt-get install prometheus)"
)

# alert -> (for, the guide's "Action", which ends the description)
GUIDE_ALERTS = {
    "RoleReadyRedisNotReady": ("5m", "Check Redis server, network, credentials."),
    "RoleReadyCacheHitRateLow": ("1h", "Review cache TTLs, check if cache is being used."),
    "RoleReadyRedisErrorsHigh": ("0m", "Check Redis logs, connection issues."),
    "RoleReadyRedisReconnectAttemptsHigh": ("0m", "Investigate connection stability."),
    "RoleReadyRedisMemoryHigh": ("5m", "Increase Redis memory or review eviction policy."),
}
# Alerts the guide lacks: alert -> for.
ADDED_ALERTS = {"RoleReadyCacheDown": "2m", "RoleReadyRedisEvicting": "15m",
                "RoleReadyCache5xxRatioHigh": "5m", "RoleReadyCacheLatencyHigh": "10m",
                "RoleReadyCacheOverloaded": "5m",
                "RoleReadyRedisReplicaConfirmationsStalled": "1m"}
# The thresholds of the guide, as they must appear in each expression.
GUIDE_THRESHOLDS = {
    "RoleReadyRedisNotReady": ["roleready_redis_up == 0", "roleready_redis_enabled == 1"],
    "RoleReadyCacheHitRateLow": ["< 0.70", "roleready_cache_lookups_total"],
    "RoleReadyRedisErrorsHigh": [
        "sum without (worker) (increase(roleready_redis_errors_total[5m])) > 100"],
    "RoleReadyRedisReconnectAttemptsHigh": ["roleready_redis_reconnect_attempts > 5"],
    "RoleReadyRedisMemoryHigh": ["> 0.80", "roleready_redis_maxmemory_bytes > 0",
                                 'policy="noeviction"', "roleready_redis_expiring_keys == 0"],
    "RoleReadyCacheDown": ['up{job="roleready-cache"} == 0'],
    "RoleReadyRedisEvicting": ["rate(roleready_redis_evicted_keys_total[10m]) > 0"],
    "RoleReadyCache5xxRatioHigh": ['status=~"5.."', "> 0.01", ">= 100"],
    "RoleReadyCacheLatencyHigh": ["histogram_quantile(0.99", 'route=~"/cache/.*"', "> 0.25"],
    "RoleReadyCacheOverloaded": ["rate(roleready_http_overloaded_total[2m])) > 0"],
    "RoleReadyRedisReplicaConfirmationsStalled": [
        "roleready_cache_unconfirmed_oldest_age_seconds > 30"],
}


def alerts() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule for group in document["groups"] for rule in group["rules"]}


def test_the_guide_s_five_alerts_and_six_more_exist_with_durations_and_runbooks() -> None:
    rules = alerts()
    assert set(rules) == set(GUIDE_ALERTS) | set(ADDED_ALERTS)
    for name, (duration, action) in GUIDE_ALERTS.items():
        assert rules[name]["for"] == duration, name
        assert rules[name]["annotations"]["description"].endswith(f"Action: {action}"), name
    for name, duration in ADDED_ALERTS.items():
        assert rules[name]["for"] == duration, name
    headings = re.findall(r"^### (\S+)\s*$", OPERATIONS.read_text(encoding="utf-8"), re.MULTILINE)
    for name, rule in rules.items():
        # The section's anchor: GitHub's, the heading in lower case.
        assert rule["annotations"]["runbook_url"] == f"docs/operations.md#{name.lower()}", name
        assert "runbook" not in rule["annotations"], name
        assert headings.count(name) == 1, f"one '### {name}' in docs/operations.md"
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["annotations"]["summary"].strip(), name
        assert rule["annotations"]["description"].strip(), name
        for needle in GUIDE_THRESHOLDS[name]:
            assert needle in " ".join(rule["expr"].split()), (name, needle)


async def test_every_metric_in_the_rules_is_exposed_by_a_live_service(
    app_client: Callable[..., Awaitable[TestClient]], redis_server: RedisServer
) -> None:
    exposed = await live_metrics(await ready_client(app_client, redis_server.url))
    for name, rule in alerts().items():
        # `up` is Prometheus's own series: the one rule without a service metric.
        assert metric_names(rule["expr"]) or name == "RoleReadyCacheDown", name
        in_text = metric_names(" ".join(rule["annotations"].values()))
        assert in_text <= set(exposed), f"{name}'s annotations name {in_text - set(exposed)}"
        assert not problems(rule["expr"], exposed), (name, problems(rule["expr"], exposed))


@needs_promtool
def test_promtool_check_rules_accepts_the_file() -> None:
    result = run_promtool("check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 11 rules found" in result.stdout


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


def series(name: str, instance: str, values: str, job: str = "rr",
           **labels: str) -> dict[str, str]:
    extra = "".join(f', {key}="{value}"' for key, value in labels.items())
    return {"series": f'{name}{{job="{job}", instance="{instance}"{extra}}}', "values": values}


# An instance expected to fire, alone or with the extra labels its alert carries.
Firing = str | tuple[str, dict[str, str]]


def expect(alert: str, at: str, *firing: Firing, severity: str = "warning",
           job: str = "rr") -> dict[str, Any]:
    alerts = []
    for entry in firing:
        instance, extra = (entry, {}) if isinstance(entry, str) else entry
        alerts.append({"exp_labels": {"severity": severity, "job": job, "instance": instance,
                                      **extra}})
    return {"eval_time": at, "alertname": alert, "exp_alerts": alerts}


def lookups(instance: str, memory: int, redis: int, miss: int) -> list[dict[str, str]]:
    """Counters growing by the given lookups per minute for 90 minutes."""
    return [series("roleready_cache_lookups_total", instance, f"0+{per_minute}x90", result=result)
            for result, per_minute in (("hit_memory", memory), ("hit_redis", redis),
                                       ("miss", miss))]


def memory(instance: str, used: int, maximum: int, policy: str,
           expiring: int) -> list[dict[str, str]]:
    """An instance's view of one Redis for 10 minutes."""
    return [series("roleready_redis_used_memory_bytes", instance, f"{used}x10"),
            series("roleready_redis_maxmemory_bytes", instance, f"{maximum}x10"),
            series("roleready_redis_maxmemory_policy_info", instance, "1x10", policy=policy),
            series("roleready_redis_expiring_keys", instance, f"{expiring}x10")]


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
    {  # > 100 errors in 5m, over an instance's workers; a slower stream and a
       # counter reset stay quiet, also one worker's reset beside another's
       # large count (summed into one series, that drop would read as 5,000 new errors)
        "interval": "1m",
        "input_series": [
            series("roleready_redis_errors_total", "storm", "0+30x10"),
            series("roleready_redis_errors_total", "drizzle", "0+10x10"),
            series("roleready_redis_errors_total", "restarted", "900 950 0 5 10 15 20 25 30"),
            *(series("roleready_redis_errors_total", "two-workers", "0+12x10", worker=w)
              for w in ("0", "1")),
            series("roleready_redis_errors_total", "one-restarted", "5000+10x10", worker="0"),
            series("roleready_redis_errors_total", "one-restarted", "900 910 0 1 2 3 4 5 6 7 8",
                   worker="1"),
        ],
        "alert_rule_test": [expect("RoleReadyRedisErrorsHigh", "8m", "storm", "two-workers")],
    },
    {  # reconnect attempts > 5
        "interval": "1m",
        "input_series": [
            series("roleready_redis_reconnect_attempts", "unstable", "6x3"),
            series("roleready_redis_reconnect_attempts", "retrying", "5x3"),
        ],
        "alert_rule_test": [expect("RoleReadyRedisReconnectAttemptsHigh", "1m", "unstable")],
    },
    {  # used > 80% of maxmemory for 5m where a full Redis refuses writes: noeviction,
       # volatile-* with no key that has a TTL; quiet for allkeys-lru, volatile-* with
       # TTLs, unlimited (0) and 50%
        "interval": "1m",
        "input_series": [
            *memory("refusing", 90, 100, "noeviction", expiring=0),
            *memory("volatile-bare", 90, 100, "volatile-lru", expiring=0),
            *memory("volatile-ttls", 90, 100, "volatile-lru", expiring=5),
            *memory("lru", 90, 100, "allkeys-lru", expiring=0),
            *memory("unlimited", 90, 0, "noeviction", expiring=0),
            *memory("half", 50, 100, "noeviction", expiring=0),
        ],
        "alert_rule_test": [
            expect("RoleReadyRedisMemoryHigh", "4m"),
            expect("RoleReadyRedisMemoryHigh", "6m", ("refusing", {"policy": "noeviction"}),
                   ("volatile-bare", {"policy": "volatile-lru"})),
        ],
    },
    {  # evictions every 10-minute window for 15m; one burst, and no evictions, stay quiet
        "interval": "1m",
        "input_series": [
            series("roleready_redis_evicted_keys_total", "evicting", "0+60x30"),
            series("roleready_redis_evicted_keys_total", "burst", "0 600 600x28"),
            series("roleready_redis_evicted_keys_total", "calm", "0x30"),
            *(series("roleready_redis_maxmemory_policy_info", instance, "1x30",
                     policy="allkeys-lru") for instance in ("evicting", "burst", "calm")),
        ],
        "alert_rule_test": [
            expect("RoleReadyRedisEvicting", "10m"),
            expect("RoleReadyRedisEvicting", "20m", ("evicting", {"policy": "allkeys-lru"})),
        ],
    },
    {  # the oldest unconfirmed write older than 30 s for 1m; confirmations that keep
       # coming (ages that drop back) and an idle instance (nothing held: 0) stay quiet
        "interval": "1m",
        "input_series": [
            series("roleready_cache_unconfirmed_oldest_age_seconds", "stalled", "0 60 120 180 240"),
            series("roleready_cache_unconfirmed_oldest_age_seconds", "confirming",
                   "0.02 0.05 0.03 0.04 0.02"),
            series("roleready_cache_unconfirmed_oldest_age_seconds", "idle", "0x4"),
        ],
        "alert_rule_test": [
            expect("RoleReadyRedisReplicaConfirmationsStalled", "1m"),
            expect("RoleReadyRedisReplicaConfirmationsStalled", "3m", "stalled"),
        ],
    },
    {  # a target of the roleready-cache job failing its scrapes for 2m; other jobs ignored
        "interval": "1m",
        "input_series": [
            series("up", "down:3001", "1 0 0 0 0", job="roleready-cache"),
            series("up", "fine:3001", "1x4", job="roleready-cache"),
            series("up", "elsewhere:9100", "0x4", job="node"),
        ],
        "alert_rule_test": [
            expect("RoleReadyCacheDown", "2m", severity="critical", job="roleready-cache"),
            expect("RoleReadyCacheDown", "3m", "down:3001", severity="critical",
                   job="roleready-cache"),
        ],
    },
]

def answers(instance: str, per_minute: float, status: str = "200",
            route: str = "/cache/{namespace}/{key}", worker: str = "0") -> dict[str, str]:
    return series("roleready_http_request_duration_seconds_count", instance,
                  f"0+{per_minute}x20", route=route, method="GET", status=status, worker=worker)


def durations(instance: str, per_minute: int, slow: bool,
              route: str = "/cache/{namespace}/{key}") -> list[dict[str, str]]:
    """A route's histogram for 20 minutes: every answer under 1 ms, or
    every one between 250 and 500 ms."""
    fast = "0" if slow else str(per_minute)
    grow = {"0.001": fast, "0.25": fast, "0.5": str(per_minute), "+Inf": str(per_minute)}
    name = "roleready_http_request_duration_seconds"
    labels = {"route": route, "method": "GET", "status": "200", "worker": "1"}
    return [*(series(f"{name}_bucket", instance, f"0+{step}x20", le=le, **labels)
              for le, step in grow.items()),
            series(f"{name}_count", instance, f"0+{per_minute}x20", **labels)]


CALLER_CASES: list[dict[str, Any]] = [
    {  # > 1% 5xx for 5m, over two workers; 0.5%, readiness's draining 503s and a
       # trickle stay quiet
        "interval": "1m",
        "input_series": [
            answers("failing", 50, worker="0"), answers("failing", 50, worker="1"),
            answers("failing", 3, status="503", worker="1"),
            answers("fine", 200), answers("fine", 1, status="500"),
            answers("draining", 100), answers("draining", 50, "503", "/health/ready"),
            answers("trickle", 1), answers("trickle", 1, status="503"),
        ],
        "alert_rule_test": [
            expect("RoleReadyCache5xxRatioHigh", "4m"),
            expect("RoleReadyCache5xxRatioHigh", "10m", "failing"),
        ],
    },
    {  # a cache route's p99 above 250 ms for 10m; fast answers, a slow route
       # outside /cache/ and a slow trickle stay quiet
        "interval": "1m",
        "input_series": [
            *durations("slow", 100, slow=True),
            *durations("fast", 100, slow=False),
            *durations("slow-health", 100, slow=True, route="/health/detailed"),
            *durations("slow-trickle", 10, slow=True),
        ],
        "alert_rule_test": [
            expect("RoleReadyCacheLatencyHigh", "8m"),
            expect("RoleReadyCacheLatencyHigh", "15m",
                   ("slow", {"route": "/cache/{namespace}/{key}"})),
        ],
    },
    {  # overloaded refusals in every 2-minute window for 5m; one burst stays quiet
        "interval": "1m",
        "input_series": [
            series("roleready_http_overloaded_total", "sustained", "0x20", worker="0"),
            series("roleready_http_overloaded_total", "sustained", "0+10x20", worker="1"),
            series("roleready_http_overloaded_total", "burst", "0 0 50 50x17", worker="0"),
        ],
        "alert_rule_test": [
            expect("RoleReadyCacheOverloaded", "3m"),
            expect("RoleReadyCacheOverloaded", "10m", "sustained"),
        ],
    },
]
SEMANTIC_CASES += CALLER_CASES

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
                    "/health/events. Action: Check Redis server, network, credentials."
                ),
                "runbook_url": "docs/operations.md#rolereadyredisnotready",
            },
        }],
    }],
}
