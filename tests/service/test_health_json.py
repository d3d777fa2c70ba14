"""The health+json document from a view and counters, and content negotiation."""

from __future__ import annotations

import pytest

from service.build import build
from service.cache.memory import MemoryTier
from service.cache.stats import CacheStats
from service.cache.two_tier import TwoTierCache
from service.http.health_json import health_json, wants_health_json
from service.link.probe import ProbeResult
from statemachine.clock import FakeClock
from statemachine.projections import LinkView

TIME = "2027-01-15T08:00:00.000Z"


@pytest.mark.parametrize(
    ("accept", "wanted"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("text/html, application/xhtml+xml", False),
        ("application/health+json", True),
        ("Application/Health+JSON", True),
        ("application/health+json; q=0.5, */*; q=0.1", True),
        ("application/json, application/health+json", True),  # equal q: the named one
        ("application/json, application/health+json;q=0.9", False),
        ("application/health+json;q=0", False),
        ("application/health+json;q=oops", False),
        ("text/plain, application/health+json", True),
    ],
)
def test_health_json_only_when_asked_for(accept: str | None, wanted: bool) -> None:
    assert wants_health_json(accept) is wanted


def _cache() -> TwoTierCache:
    clock = FakeClock()
    cache = TwoTierCache(MemoryTier(1000, 1 << 20, 60, clock.monotonic), None, {"default": 1},
                         CacheStats(), wall=clock.wall)
    cache.memory.put("default", "k", b"v", "text/plain", 1000)
    cache.stats.memory_hits, cache.stats.misses = 3, 1
    return cache


def test_a_cluster_reports_each_master_and_warns_for_one_down() -> None:
    topology = {"mode": "cluster", "state": "ready", "nodes": [
        {"address": "10.0.0.1:7000", "state": "ready"},
        {"address": "10.0.0.2:7000", "state": "reconnecting"},
    ]}
    probe = ProbeResult(0.0021, 1024, "1.00K", 0)
    document = health_json(build(), _cache(), LinkView(), "ready", True, probe, topology, False, TIME)
    assert document["status"] == "pass"  # the link answers: keys of a down master miss
    connection = document["checks"]["redis:connection"]
    assert [(c["componentId"], c["observedValue"], c["status"]) for c in connection] == [
        ("10.0.0.1:7000", "ready", "pass"), ("10.0.0.2:7000", "reconnecting", "warn"),
    ]
    assert document["checks"]["redis:responseTime"][0]["observedValue"] == 2.1
    assert document["checks"]["memoryCache:utilization"][0]["observedValue"] == 0.1
    assert document["checks"]["cache:hitRate"][0]["observedValue"] == 75.0


def test_info_refused_is_a_pass_without_a_memory_figure() -> None:
    probe = ProbeResult(0.001, None, None, None)
    topology = {"mode": "single", "master": "127.0.0.1:6379"}
    document = health_json(build(), _cache(), LinkView(), "ready", True, probe, topology, False, TIME)
    memory = document["checks"]["redis:memoryUsage"][0]
    assert memory["status"] == "pass" and "observedValue" not in memory
    assert document["status"] == "pass"


def test_draining_warns() -> None:
    document = health_json(build(), _cache(), LinkView(), "disconnected", False, None,
                           {"mode": "disabled", "master": None}, True, TIME)
    assert document["status"] == "warn"
    assert document["notes"] == ["Draining for shutdown: /health/ready answers 503."]
