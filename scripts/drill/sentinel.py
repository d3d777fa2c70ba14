"""The failover drill's sentinel mode: kill the master, time the service's move.

    service on the sentinels' master, a replica in sync ─► kill the master
    (--stop-cmd, or SENTINEL FAILOVER <name> when none is given)
    ─► the journal shows the link leave ready or a MasterSwitched (time to detect)
    ─► /health/detailed names another master, healthy (time to the new master)
    ─► a PUT lands in Redis ─► [--start-cmd: the old master back, as a replica,
    the service stays] ─► the journal reads ready -> error -> ... -> ready

Both times count from the kill's return to the first poll that saw the
change (resolution --poll-interval). The sentinels are asked with redis-cli
(scripts/redisops/sentinel.py), the service over HTTP only.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from scripts.drill.journal import JOURNAL_LIMIT
from scripts.drill.probe import Service, StepFailed, run_command
from scripts.drill.steps import Drill, Step
from scripts.redisops.rediscli import Endpoint, OpsError, env_flag
from scripts.redisops.sentinel import (
    Sentinel,
    address,
    first_answer,
    in_sync,
    parse_host_ports,
    sentinel_password,
)

# A host name or an address (IPv6 too): never an option ("-...") or shell text.
_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:-]{0,253}").fullmatch


def sentinels_for(args: argparse.Namespace, environ: Mapping[str, str]) -> list[Sentinel]:
    """--sentinel (or REDIS_SENTINELS) about --master-name, reached as the
    service reaches them: REDIS_SENTINEL_PASSWORD(_FILE), REDIS_TLS and its CA file."""
    template = Endpoint(tls=env_flag(environ, "REDIS_TLS"),
                        cacert=environ.get("REDIS_TLS_CA_FILE") or None,
                        password=sentinel_password(environ))
    addresses = [pair for text in args.sentinel for pair in parse_host_ports(text)]
    return [Sentinel.at(host, port, args.master_name, template) for host, port in addresses]


class SentinelDrill(Drill):
    """The steps of sentinel mode; the sentinels that answer PING are asked,
    the first listed first. While the master changes, the service's PUT and
    GET may be served by either tier: only the answers are checked."""

    memory_only_during_outage = False

    def __init__(self, service: Service, args: argparse.Namespace,
                 out: Callable[[str], None], sentinels: list[Sentinel]) -> None:
        super().__init__(service, args, out)
        self.sentinels = sentinels

    def topology(self) -> tuple[dict[str, Any], dict[str, Any]]:
        check = self.service.redis_check()
        return check, dict(check.get("topology") or {})

    def on_sentinels_master(self, step: Step) -> str:
        _, topology = self.topology()
        if topology.get("mode") != "sentinel":
            raise StepFailed(f"the service is not in Sentinel mode (topology {topology}): "
                             "set REDIS_SENTINELS and REDIS_SENTINEL_MASTER")
        sentinel, named = self._ask(first_answer)
        if topology.get("master") != named:
            raise StepFailed(f"the service talks to {topology.get('master')}, sentinel "
                             f"{sentinel.address} names {named}: not killing anything")

        def synced() -> list[str] | None:
            replicas = self._ask(lambda found: found[0].replicas())
            return [address(r) for r in replicas if in_sync(r)] or None

        # Right after an earlier drill the demoted master is still syncing.
        _, ready = self._poll(synced, time.monotonic(), self.args.detect_timeout,
                              f"replica of {named} in sync (nothing to promote: "
                              "not killing the master)", "into the drill")
        self.context["old_master"] = named
        step.data = {"master": named, "replicas_in_sync": ready}
        return (f"service and sentinel {sentinel.address} agree: master {named}; "
                f"replicas in sync: {', '.join(ready)}")

    def kill_master(self, step: Step) -> str:
        self.stop_attempted = True
        old = str(self.context["old_master"])
        if self.args.stop_cmd:
            _, detail = run_command(self.args.stop_cmd, self.args.command_timeout,
                                    self._on_old_master())
        else:
            sentinel = self._ask(lambda found: found[0])
            try:
                sentinel.failover()
            except OpsError as exc:
                raise StepFailed(f"SENTINEL FAILOVER {sentinel.master_name}: {exc}") from exc
            detail = f"SENTINEL FAILOVER {sentinel.master_name} sent to {sentinel.address}: OK"
        self.context["killed_at"] = time.monotonic()
        return f"{detail} (master was {old})"

    def switch_detected(self, step: Step) -> str:
        since = int(self.context["since_seq"])

        def seen() -> dict[str, Any] | None:
            events = self.service.get_json(f"/health/events?limit={JOURNAL_LIMIT}")["events"]
            return next((e for e in events if int(e["seq"]) > since and (
                e["type"] == "MasterSwitched" or (e["from"] == "ready" and e["to"] != "ready"))),
                None)

        waited, event = self._poll(seen, self._killed_at(), self.args.detect_timeout,
                                   "link leaving ready or MasterSwitched in the journal")
        self.context["timings"]["time_to_detect_s"] = waited
        step.data = {"event": event}
        what = event.get("message") or f"{event.get('old_master')} -> {event.get('new_master')}"
        return (f"{event['type']} ({event['from']} -> {event['to']}: {what}) in the journal "
                f"{waited:.2f} s after the kill")

    def new_master(self, step: Step) -> str:
        old = self.context["old_master"]

        def moved() -> dict[str, Any] | None:
            check, topology = self.topology()
            master = topology.get("master")
            ok = check.get("status") == "healthy" and master not in (None, old)
            return {"check": check, "master": master} if ok else None

        waited, seen = self._poll(moved, self._killed_at(), self.args.recover_timeout,
                                  f"topology.master other than {old} and healthy")
        self.context["timings"]["time_to_new_master_s"] = waited
        self.context["new_master"] = seen["master"]
        sentinel, named = self._ask(first_answer)
        if named != seen["master"]:
            raise StepFailed(f"the service moved to {seen['master']}, but sentinel "
                             f"{sentinel.address} names {named}")
        step.data = seen
        return (f"ready on {seen['master']} {waited:.2f} s after the kill "
                f"(sentinel {sentinel.address} agrees)")

    def write_on_new_master(self, step: Step) -> str:
        put, got = self._put_get(self._new_key("new-master"))
        stored = put.headers.get("X-Cache-Stored")
        if stored != "redis":
            raise StepFailed(f"PUT answered X-Cache-Stored: {stored}, expected redis")
        return f"PUT 204 X-Cache-Stored: redis, GET 200 X-Cache: {got.headers.get('X-Cache')}"

    def old_master_back(self, step: Step) -> str:
        self._killed_at()
        _, detail = run_command(self.args.start_cmd, self.args.command_timeout,
                                self._on_old_master())
        self.context["started_at"] = time.monotonic()
        return detail

    def old_master_a_replica(self, step: Step) -> str:
        old, new = self.context["old_master"], self.context.get("new_master")

        def rejoined() -> dict[str, str] | None:
            replicas = self._ask(lambda found: found[0].replicas())
            return next((r for r in replicas if address(r) == old and in_sync(r)), None)

        waited, _ = self._poll(rejoined, float(self.context["started_at"]),
                               self.args.recover_timeout, f"{old} listed as a replica in sync",
                               "after the start command")
        check, topology = self.topology()
        if topology.get("master") != new or check.get("status") != "healthy":
            raise StepFailed(f"the service left {new}: topology.master "
                             f"{topology.get('master')}, status {check.get('status')}")
        return f"{old} a replica in sync {waited:.2f} s after the start; service stays on {new}"

    def journal_switch(self, step: Step) -> str:
        """The failover mode's journal check, plus the announcements heard."""
        detail = self.journal(step)
        switches = [f"{e['old_master']} -> {e['new_master']}"
                    for e in self.context["journal"]["events"] if e["type"] == "MasterSwitched"]
        return detail + (f"; MasterSwitched {', '.join(switches)}" if switches else "")

    def _ask(self, question: Callable[[list[Sentinel]], Any]) -> Any:
        """`question` put to the sentinels that answer PING, first listed first."""
        answering = []
        for sentinel in self.sentinels:
            try:
                sentinel.ping()
                answering.append(sentinel)
            except OpsError:
                continue
        if not answering:
            raise StepFailed("no sentinel answers: " + ", ".join(s.address for s in self.sentinels))
        try:
            return question(answering)
        except OpsError as exc:
            raise StepFailed(str(exc)) from exc

    def _on_old_master(self) -> dict[str, str]:
        """{master_host} and {master_port} for an operator's command: the master
        the drill kills (the sentinels move it on every drill). A sentinel's
        answer is not trusted to be a host name: anything else is refused."""
        host, _, port = str(self.context["old_master"]).rpartition(":")
        if _HOST(host) is None or not port.isascii() or not port.isdigit():
            raise StepFailed(f"the sentinels named the master {self.context['old_master']!r}, "
                             "which is not a host:port; no command was run")
        return {"master_host": host, "master_port": port}

    def _killed_at(self) -> float:
        if "killed_at" not in self.context:
            raise StepFailed("the kill did not complete")
        return float(self.context["killed_at"])

    def _poll(self, check: Callable[[], Any], since: float, timeout_s: float, what: str,
              after: str = "after the kill") -> tuple[float, Any]:
        """Call `check` every --poll-interval until it returns a value; the
        seconds from `since` (a time.monotonic() mark) to that poll, and the value."""
        while True:
            if self.interrupted():
                raise StepFailed(f"interrupted (Ctrl-C) while waiting for {what}")
            seen = check()
            waited = time.monotonic() - since
            if seen is not None:
                return round(waited, 3), seen
            if waited >= timeout_s:
                raise StepFailed(f"no {what} {waited:.2f} s {after}")
            time.sleep(self.args.poll_interval)


def run_sentinel(drill: SentinelDrill) -> None:
    drill.step("service answers", drill.service_answers)
    drill.step("Redis healthy", drill.redis_healthy)
    drill.step("service on the sentinels' master", drill.on_sentinels_master)
    drill.step("kill the master", drill.kill_master)
    drill.step("switch detected", drill.switch_detected)
    drill.step("service still works", drill.still_serves)
    drill.step("ready on the new master", drill.new_master)
    drill.step("write on the new master", drill.write_on_new_master)
    if drill.args.start_cmd:
        drill.step("old master back", drill.old_master_back, restores=True)
        drill.step("old master a replica", drill.old_master_a_replica)
    drill.step("journal sequence", drill.journal_switch)
