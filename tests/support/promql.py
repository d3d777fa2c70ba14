"""PromQL written in this repository (deploy/prometheus/alerts.yml, the
Grafana dashboard) held to what a live service's /metrics exposes.

`live_metrics` drives a little traffic through an in-process app (a hit, a
miss, a PUT, a 404) so the per-route series exist, then scrapes it;
`problems` lists what a query uses that the scrape lacks: metric names,
label names in selectors and in `by`/`without`/`on`/`group_left` clauses,
and the label values matched with `=` or an alternation `=~"a|b"`. The
check is textual (regular expressions, not a PromQL parser): enough for the
queries written here, which keep to selectors, functions and aggregations.
"""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

# metric or sample name -> label name -> values seen
Exposed = dict[str, dict[str, set[str]]]

# Names this service exposes (its own and prometheus-client's process_*).
METRIC = re.compile(r"\b(?:roleready|process)_[A-Za-z0-9_]+")
# A selector's braces; a quoted value may hold braces of its own (routes do).
SELECTOR = re.compile(r'\b((?:roleready|process)_[A-Za-z0-9_]+)\s*\{((?:[^}"]|"[^"]*")*)\}')
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
REGEX_SYNTAX = re.compile(r"[.*+?\[\]()^\\]")
# Labels Prometheus adds at scrape time, never in /metrics itself, and the
# worker slot the instance's exposition adds with WORKERS > 1
# (service/http/instance/exposition.py; the in-process app scraped here is one).
TARGET_LABELS = frozenset({"job", "instance", "worker"})
# Every maxmemory-policy of Redis 7. A live service shows only its server's
# policy, so rules may match the others by name; the integration test
# (tests/integration/test_redis_info_metrics.py) sets each one on a real
# redis-server and sees it exposed.
MAXMEMORY_POLICIES = frozenset({
    "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
})
ENUMERATED_VALUES = {"policy": MAXMEMORY_POLICIES}


def parse_exposition(text: str) -> Exposed:
    exposed: Exposed = {}
    for family in text_string_to_metric_families(text):
        exposed.setdefault(family.name, {})
        for sample in family.samples:
            labels = exposed.setdefault(sample.name, {})
            for name, value in sample.labels.items():
                labels.setdefault(name, set()).add(value)
    return exposed


async def live_metrics(client: TestClient) -> Exposed:
    """Traffic on the cache routes (200, 204, 404), then one scrape."""
    assert (await client.put("/cache/default/k", data=b"v")).status == 204
    assert (await client.get("/cache/default/k")).status == 200
    assert (await client.get("/cache/default/absent")).status == 404
    assert (await client.delete("/cache/default/k")).status == 204
    response = await client.get("/metrics")
    assert response.status == 200
    return parse_exposition(await response.text())


def metric_names(text: str) -> set[str]:
    return set(METRIC.findall(text))


def problems(query: str, exposed: Exposed) -> list[str]:
    """What `query` names that `exposed` lacks, one sentence each."""
    used = metric_names(query)
    found = [f"no metric {name}" for name in sorted(used - set(exposed))]
    for metric, matchers in SELECTOR.findall(query):
        for label, op, value in MATCHER.findall(matchers):
            found += _matcher_problems(metric, label, op, value, exposed.get(metric, {}))
    known = TARGET_LABELS.union(*(exposed.get(name, {}) for name in used))
    for labels in GROUPING.findall(query):
        for label in filter(None, (part.strip() for part in labels.split(","))):
            if label not in known:
                found.append(f"no label {label} on {sorted(used)}")
    return found


def _matcher_problems(metric: str, label: str, op: str, value: str,
                      labels: dict[str, set[str]]) -> list[str]:
    if label in TARGET_LABELS:
        return []
    if label not in labels:
        return [f"{metric} has no label {label}"]
    # Grafana variables ($instance) and real regexes ("5..") are not values to look up.
    if op not in ("=", "=~") or "$" in value or (op == "=~" and REGEX_SYNTAX.search(value)):
        return []
    wanted = value.split("|") if op == "=~" else [value]
    allowed = labels[label] | ENUMERATED_VALUES.get(label, frozenset())
    missing = sorted(set(wanted) - allowed)
    return [f"{metric} has no {label} value(s) {missing}"] if missing else []
