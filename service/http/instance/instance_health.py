"""/health/detailed for the whole instance: each worker's link, the worst wins.

The answering worker builds the guide's document as one process would (its
own probe of Redis), asks its siblings for theirs (peers.py; a sibling sends
its document without a probe, and a `worker` entry judged from its link
state alone), and then:

- adds `workers`: one entry per slot (worker, pid, status, connectionStatus,
  reconnectAttempts, lastError, lastErrorTime, draining); a sibling that did
  not answer is `{"worker": n, "status": "unreachable"}`;
- sums the cache figures (entries, capacity, bytes, hits, misses, ...) over
  the workers that answered and recomputes utilizationPercent and hitRate;
- makes `checks.redis` the worst worker's: while any worker's link is not
  ready (or a worker did not answer), `status` is `unhealthy` and the
  top-level status `degraded`, with that worker's state and last error.
  responseTime and memoryUsed stay the answering worker's probe (they
  describe Redis, not a worker).

Only fields are added; none of the guide's is renamed or removed.
"""

from __future__ import annotations

import copy
from typing import Any

from service.http.figures import percent
from statemachine.clock import iso_utc
from statemachine.projections import LinkView
from statemachine.states import State

HEALTHY, DEGRADED, UNREACHABLE = "healthy", "degraded", "unreachable"
# Fields of checks.redis that come from the worst worker's link.
LINK_FIELDS = ("connectionStatus", "reconnectAttempts", "lastError", "lastErrorTime")


def worker_entry(
    slot: int, pid: int, view: LinkView, state: str, healthy: bool, draining: bool
) -> dict[str, Any]:
    """One worker's line of `workers`."""
    return {
        "worker": slot,
        "pid": pid,
        "status": HEALTHY if healthy else DEGRADED,
        "connectionStatus": state,
        "reconnectAttempts": view.reconnect_attempts,
        "lastError": view.last_error,
        "lastErrorTime": iso_utc(view.last_error_time) if view.last_error_time else None,
        "draining": draining,
    }


def link_is_healthy(enabled: bool, state: str) -> bool:
    """A sibling's status without a probe: its link's state is the judge."""
    return enabled and state == State.READY


def instance_report(
    own: dict[str, Any], own_entry: dict[str, Any],
    siblings: dict[int, dict[str, Any] | None],
) -> dict[str, Any]:
    """The answering worker's document turned into the instance's."""
    report = copy.deepcopy(own)
    entries = entries_of(own_entry, siblings)
    cache = report["checks"]["cache"]
    for answer in siblings.values():
        if answer:
            add_counts(cache, answer["report"]["checks"]["cache"])
    _recompute_rates(cache)
    _take_worst_link(report["checks"]["redis"], entries, siblings)
    report["status"] = HEALTHY if report["checks"]["redis"]["status"] == HEALTHY else DEGRADED
    report["workers"] = entries
    return report


def add_counts(total: dict[str, Any], other: dict[str, Any]) -> None:
    """Adds `other`'s whole numbers into `total`, field by field, in place."""
    for name, value in other.items():
        mine = total.get(name)
        if isinstance(mine, dict) and isinstance(value, dict):
            add_counts(mine, value)
        elif _is_count(mine) and _is_count(value):
            total[name] = mine + value


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _recompute_rates(cache: dict[str, Any]) -> None:
    memory, redis = cache["memory"], cache["redis"]
    memory["utilizationPercent"] = percent(memory["entries"], memory["capacity"])
    redis["hitRate"] = f"{percent(redis['hits'], redis['hits'] + redis['misses'])}%"


def _take_worst_link(
    redis: dict[str, Any], entries: list[dict[str, Any]],
    siblings: dict[int, dict[str, Any] | None],
) -> None:
    worst = next((entry for entry in entries if entry["status"] != HEALTHY), None)
    if worst is None or redis["status"] != HEALTHY:
        return  # all healthy, or the answering worker's own link is the worst
    redis["status"] = "unhealthy"
    if worst["status"] == DEGRADED:
        for field in LINK_FIELDS:
            redis[field] = worst[field]


def entries_of(own_entry: dict[str, Any], siblings: dict[int, dict[str, Any] | None]
               ) -> list[dict[str, Any]]:
    """`workers`, in slot order; a sibling that did not answer is unreachable."""
    entries = [own_entry] + [
        answer["worker"] if answer else {"worker": slot, "status": UNREACHABLE}
        for slot, answer in siblings.items()
    ]
    return sorted(entries, key=lambda entry: int(entry["worker"]))


def health_json_workers(
    document: dict[str, Any], entries: list[dict[str, Any]], time: str, enabled: bool
) -> None:
    """The health+json document for the instance: a `worker:connection`
    check per worker, and `warn` while any of them is not healthy (memory-only
    workers pass, as the one-process document does)."""
    def passes(entry: dict[str, Any]) -> bool:
        return entry["status"] == HEALTHY or (not enabled and entry["status"] != UNREACHABLE)

    document["checks"]["worker:connection"] = [
        {"componentId": f"worker-{entry['worker']}", "componentType": "component",
         "observedValue": entry.get("connectionStatus", UNREACHABLE),
         "status": "pass" if passes(entry) else "warn", "time": time}
        for entry in entries
    ]
    troubled = [entry for entry in entries if not passes(entry)]
    if troubled and document["status"] == "pass":
        document["status"] = "warn"
        document.setdefault("notes", []).append(
            f"{len(troubled)} of {len(entries)} workers not healthy (worker:connection).")
