"""scripts/failover-drill: the guide's "Test Redis Failover" (and "Test Cache
Recovery") as one command against a running service, over HTTP only.

Flow (failover mode):

    /health 200 -> /health/detailed healthy -> stop command -> poll until
    unhealthy (time to detect) -> /api/status, /health/ready, PUT+GET served
    from memory -> start command -> poll until healthy (time to recover) ->
    /health/events since the drill began: ready -> error -> reconnecting ... -> ready

Once the stop command has been run, the start command and the wait for
recovery always run, even after a failed step or Ctrl-C, so a drill never
leaves Redis down. Standard library only: plain python3 runs it, no virtualenv.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scripts.drill.journal import JOURNAL_LIMIT, check_sequence, journal_path
from scripts.drill.probe import Reply, Service, StepFailed, run_command, wait_for_redis

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass
class Step:
    number: int
    name: str
    status: str = "skip"  # pass | fail | skip
    duration_s: float | None = None
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)



class Drill:
    """Runs steps in order, prints each as it ends, and keeps Redis's restore
    steps running once the stop command has been attempted.

    Ctrl-C is a request, not an exception: `on_sigint` counts it, waits and
    the hold notice it, the remaining checks are skipped and Redis is started
    again. A second Ctrl-C raises KeyboardInterrupt (abort at once)."""

    # Redis stopped, not replaced: the outage's PUT and GET must be memory's.
    memory_only_during_outage = True

    def __init__(self, service: Service, args: argparse.Namespace,
                 out: Callable[[str], None]) -> None:
        self.service = service
        self.args = args
        self.out = out
        self.steps: list[Step] = []
        self.failure: Step | None = None
        self.stop_attempted = False
        self.context: dict[str, Any] = {"timings": {}, "journal": None, "cache": {}}
        self.keys: list[str] = []
        self.interrupts = 0

    def on_sigint(self, signum: int, frame: object) -> None:
        self.interrupts += 1
        if self.interrupts > 1:
            raise KeyboardInterrupt

    def interrupted(self) -> bool:
        return self.interrupts > 0

    def step(self, name: str, action: Callable[[Step], str], *, restores: bool = False) -> Step:
        step = Step(len(self.steps) + 1, name)
        self.steps.append(step)
        if self.interrupts and self.failure is None:
            self.failure = Step(step.number, name, "fail", 0.0, "interrupted (Ctrl-C) before it")
            self.out(f"[STOP] Ctrl-C before step {step.number}; "
                     + ("starting Redis again" if self.stop_attempted else "Redis not touched"))
        if self.failure is not None and not (restores and self.stop_attempted):
            self.out(f"[SKIP] {step.number}. {name}")
            return step
        started = time.monotonic()
        try:
            step.detail = action(step)
            step.status = "pass"
        except StepFailed as exc:
            step.status, step.detail = "fail", str(exc)
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            # Not the document this service serves: is --url the right service?
            step.status = "fail"
            step.detail = (f"unexpected answer from {self.service.url} "
                           f"({exc.__class__.__name__}: {exc})")
        step.duration_s = round(time.monotonic() - started, 3)
        if step.status == "fail" and self.failure is None:
            self.failure = step
        self.out(f"[{step.status.upper()}] {step.number}. {name} ({step.duration_s:.2f} s): "
                 f"{step.detail}")
        return step

    # -- steps shared by both modes ------------------------------------------------

    def service_answers(self, step: Step) -> str:
        reply = self.service.call("GET", "/health")
        if reply.status != 200 or reply.json() != {"status": "ok"}:
            raise StepFailed(f"GET /health answered {reply.status}: {reply.body[:200]!r}")
        return 'GET /health -> 200 {"status":"ok"}'

    def redis_healthy(self, step: Step) -> str:
        _, check = wait_for_redis(self.service, "healthy", since=time.monotonic(),
                                  timeout_s=self.args.detect_timeout,
                                  poll_s=self.args.poll_interval, after="into the drill",
                                  interrupted=self.interrupted)
        self.context["since_seq"] = self.service.last_seq()
        self.context["reconnects_before"] = self._cache_check()["redis"]["reconnects"]
        step.data = {"check": check}
        return (f"checks.redis.status=healthy connectionStatus={check['connectionStatus']} "
                f"responseTime={check.get('responseTime')}")

    def stop_redis(self, step: Step) -> str:
        self.stop_attempted = True
        _, detail = run_command(self.args.stop_cmd, self.args.command_timeout)
        self.context["stopped_at"] = time.monotonic()
        return detail

    def fallback_detected(self, step: Step) -> str:
        detect, check = wait_for_redis(self.service, "unhealthy",
                                       since=self.context["stopped_at"],
                                       timeout_s=self.args.detect_timeout,
                                       poll_s=self.args.poll_interval,
                                       after="after the stop command",
                                       interrupted=self.interrupted)
        self.context["timings"]["time_to_detect_s"] = detect
        step.data = {"check": check}
        return (f"unhealthy {detect:.2f} s after the stop command "
                f"(connectionStatus={check['connectionStatus']}, lastError={check['lastError']!r})")

    def start_redis(self, step: Step) -> str:
        held = ""
        if self.failure is None and "stopped_at" in self.context:
            # --hold: keep Redis down long enough for the backoff to grow.
            until = float(self.context["stopped_at"]) + self.args.hold
            while time.monotonic() < until and not self.interrupts:
                time.sleep(min(0.1, until - time.monotonic()))
            held = f" (after holding Redis down {self.args.hold:g} s)" if self.args.hold else ""
        interrupted = self.failure is None and self.interrupts > 0
        _, detail = run_command(self.args.start_cmd, self.args.command_timeout)
        self.context["started_at"] = time.monotonic()
        if interrupted:
            raise StepFailed(f"interrupted (Ctrl-C) while holding Redis down; started it: {detail}")
        return detail + held

    def recovered(self, step: Step) -> str:
        if "started_at" not in self.context:
            raise StepFailed("the start command did not complete: Redis may still be down")
        recover, check = wait_for_redis(self.service, "healthy",
                                        since=self.context["started_at"],
                                        timeout_s=self.args.recover_timeout,
                                        poll_s=self.args.poll_interval,
                                        after="after the start command")
        self.context["timings"]["time_to_recover_s"] = recover
        step.data = {"check": check}
        return f"healthy {recover:.2f} s after the start command"

    def fetch_journal(self) -> list[dict[str, Any]]:
        """Events since step 2, also kept (the first 200) for the report."""
        since = int(self.context["since_seq"])
        doc = self.service.get_json(f"/health/events?limit={JOURNAL_LIMIT}")
        events = [e for e in doc["events"] if int(e["seq"]) > since]
        self.context["journal"] = {"since_seq": since, "state": doc["state"],
                                   "path": journal_path(events), "events": events[:200]}
        return events

    def journal(self, step: Step) -> str:
        since = int(self.context["since_seq"])
        events = self.fetch_journal()
        if events and int(events[0]["seq"]) != since + 1:
            raise StepFailed(f"journal events {since + 1}..{events[0]['seq'] - 1} were dropped "
                             "(raise JOURNAL_CAPACITY); the sequence cannot be checked")
        shown = check_sequence(events)
        down = next(e for e in events if (e["from"], e["to"]) == ("ready", "error"))
        back = next(e for e in reversed(events) if e["to"] == "ready" and e["from"] != "ready")
        outage = round(float(back["monotonic"]) - float(down["monotonic"]), 3)
        self.context["timings"]["service_outage_s"] = outage
        return f"{shown} ({len(events)} events, service-side outage {outage:.2f} s)"

    # -- the failover mode's cache check -------------------------------------------

    def still_serves(self, step: Step) -> str:
        status = self.service.call("GET", "/api/status")
        ready = self.service.call("GET", "/health/ready")
        if status.status != 200 or ready.status != 200:
            raise StepFailed(f"/api/status answered {status.status}, "
                             f"/health/ready answered {ready.status}")
        key = self._new_key("outage")
        want = "hit-memory" if self.memory_only_during_outage else None
        put, got = self._put_get(key, want_source=want)
        step.data = {"api_status_s": status.elapsed_s, "put_s": put.elapsed_s,
                     "get_s": got.elapsed_s, "key": key}
        return (f"/api/status 200, /health/ready 200, PUT {put.status} "
                f"({put.elapsed_s * 1000:.0f} ms), GET 200 X-Cache: {got.headers.get('X-Cache')} "
                f"({got.elapsed_s * 1000:.0f} ms)")

    # -- cache-recovery mode ----------------------------------------------------------

    def populate(self, step: Step) -> str:
        for index in range(self.args.keys):
            self._put_get(self._new_key(f"k{index}"))
        entries = self._cache_check()["memory"]["entries"]
        self.context["cache"]["entries_before"] = entries
        return f"{self.args.keys} keys PUT and read back; checks.cache.memory.entries={entries}"

    def reconnected(self, step: Step) -> str:
        detail = self.recovered(step)
        reconnects = self._cache_check()["redis"]["reconnects"]
        before = self.context["reconnects_before"]
        step.data["reconnects"] = {"before": before, "after": reconnects}
        if reconnects <= before:
            raise StepFailed(f"healthy, but checks.cache.redis.reconnects stayed at {reconnects}")
        return f"{detail}; checks.cache.redis.reconnects {before} -> {reconnects}"

    def earlier_keys(self, step: Step) -> str:
        seen: dict[str, int] = {}
        for key in self.keys[: self.args.keys]:
            path = f"/cache/{self.args.namespace}/{key}"
            got = self.service.call("GET", path)
            source = str(got.headers.get("X-Cache"))
            if (got.status, source) != (404, "miss") and (
                    got.status != 200 or got.body != f"failover drill {key}".encode()):
                raise StepFailed(f"GET {path} answered {got.status} X-Cache: {source} "
                                 f"{got.body[:120]!r}")
            seen[source] = seen.get(source, 0) + 1
        entries = self._cache_check()["memory"]["entries"]
        self.context["cache"].update(entries_after=entries, earlier_keys=seen)
        counts = ", ".join(f"{name} {count}" for name, count in sorted(seen.items()))
        return f"{self.args.keys} earlier keys: {counts}; checks.cache.memory.entries={entries}"

    def write_after(self, step: Step) -> str:
        put, got = self._put_get(self._new_key("after"))
        check = self.service.redis_check()
        if check["status"] != "healthy":
            raise StepFailed(f"the write went through, but Redis is {check['status']} "
                             f"(connectionStatus={check['connectionStatus']})")
        return f"PUT {put.status}, GET 200 X-Cache: {got.headers.get('X-Cache')}; Redis healthy"

    def _put_get(self, key: str, want_source: str | None = None) -> tuple[Reply, Reply]:
        path = f"/cache/{self.args.namespace}/{key}"
        body = f"failover drill {key}".encode()
        put = self.service.call("PUT", path, body)
        if put.status != 204:
            raise StepFailed(f"PUT {path} answered {put.status}: {put.body[:200]!r}")
        got = self.service.call("GET", path)
        source = got.headers.get("X-Cache")
        if got.status != 200 or got.body != body:
            raise StepFailed(f"GET {path} after PUT answered {got.status} X-Cache: {source} "
                             f"{got.body[:120]!r}")
        if want_source is not None and source != want_source:
            raise StepFailed(f"GET {path} answered X-Cache: {source}, expected {want_source}")
        return put, got

    def _new_key(self, label: str) -> str:
        key = f"failover-drill-{self.context['run_id']}-{label}"
        self.keys.append(key)
        return key

    def _cache_check(self) -> dict[str, Any]:
        return dict(self.service.get_json("/health/detailed")["checks"]["cache"])

    def finish(self) -> list[str]:
        """After the steps: keep the journal for the report even when a step failed
        before the journal check, then delete the drill's keys."""
        if self.context["journal"] is None and "since_seq" in self.context:
            try:
                self.fetch_journal()
            except StepFailed:
                pass
        return self.cleanup()

    def cleanup(self) -> list[str]:
        """Delete the drill's keys; returns those that could not be deleted."""
        left = []
        for key in self.keys:
            try:
                reply = self.service.call("DELETE", f"/cache/{self.args.namespace}/{key}")
                if reply.status != 204:
                    left.append(key)
            except StepFailed:
                left.append(key)
        return left
