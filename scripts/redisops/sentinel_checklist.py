"""check-production's Sentinel items: can the sentinels fail the master over?

When the service is configured for Sentinel (REDIS_SENTINELS and
REDIS_SENTINEL_MASTER), a failover needs every listed sentinel answering,
a quorum of them agreeing on the master, the quorum reachable for an
election (SENTINEL CKQUORUM) and a replica in sync to promote:

    sentinel.reachable   every listed sentinel answers PING
    sentinel.master      at least `quorum` sentinels name the same master, not down
    sentinel.quorum      SENTINEL CKQUORUM <name> says OK
    sentinel.replicas    SENTINEL REPLICAS <name>: at least one, each with
                         master-link-status ok and no s_down/o_down/disconnected flag
    sentinel.auth        no sentinel answers PING without a password (one that
                         does lets anyone tell the service where the master is)

`gather` asks the sentinels (I/O); the items are pure functions of what it
saw, like checklist.py's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from scripts.redisops.checklist import FAIL, PASS, Result
from scripts.redisops.rediscli import OpsError
from scripts.redisops.sentinel import Sentinel, address, flags, in_sync, is_down


@dataclass
class SentinelFacts:
    master_name: str
    listed: list[str]
    unreachable: dict[str, str] = field(default_factory=dict)  # address -> why
    named: dict[str, str] = field(default_factory=dict)  # address -> master it names
    refused: dict[str, str] = field(default_factory=dict)  # address -> why not
    master: dict[str, str] | None = None  # SENTINEL MASTER, from one that named it
    ckquorum: str = "not checked"
    ckquorum_ok: bool = False
    replicas: list[dict[str, str]] | None = None
    open_to_all: list[str] = field(default_factory=list)  # answered PING without a password

    @property
    def agreed_master(self) -> str | None:
        """The address most sentinels name (None if none named one)."""
        counted = Counter(self.named.values()).most_common(1)
        return counted[0][0] if counted else None


def gather(sentinels: Sequence[Sentinel], master_name: str) -> SentinelFacts:
    facts = SentinelFacts(master_name, [s.address for s in sentinels])
    asked: Sentinel | None = None
    for sentinel in sentinels:
        try:
            sentinel.ping()
        except OpsError as exc:
            facts.unreachable[sentinel.address] = str(exc)
            continue
        if _answers_anyone(sentinel):
            facts.open_to_all.append(sentinel.address)
        try:
            facts.named[sentinel.address] = sentinel.master_address()
            asked = asked or sentinel
        except OpsError as exc:
            facts.refused[sentinel.address] = str(exc)
    if asked is None:
        return facts
    try:
        facts.master, facts.replicas = asked.master(), asked.replicas()
    except OpsError as exc:  # it named the master a moment ago: report, go on
        facts.refused[asked.address] = str(exc)
    try:
        facts.ckquorum, facts.ckquorum_ok = asked.ckquorum(), True
    except OpsError as exc:
        facts.ckquorum = str(exc)
    return facts


def _answers_anyone(sentinel: Sentinel) -> bool:
    try:
        return sentinel.cli.run("PING", authenticated=False).strip() == "PONG"
    except OpsError:  # NOAUTH: it wants a password
        return False


def reachable(facts: SentinelFacts) -> Result:
    answered = len(facts.listed) - len(facts.unreachable)
    observed = f"{answered} of {len(facts.listed)} listed sentinels answer PING"
    if not facts.unreachable:
        return Result(PASS, "sentinel.reachable", observed)
    why = "; ".join(f"{where}: {error}" for where, error in facts.unreachable.items())
    return Result(FAIL, "sentinel.reachable", f"{observed}; {why}")


def quorum_of(facts: SentinelFacts) -> int | None:
    value = (facts.master or {}).get("quorum", "")
    return int(value) if value.isdigit() else None


def master(facts: SentinelFacts) -> Result:
    agreed = facts.agreed_master
    if agreed is None:
        why = "; ".join(facts.refused.values()) or "no sentinel answered"
        return Result(FAIL, "sentinel.master", f"master {facts.master_name!r} unknown: {why}")
    agreeing = sum(named == agreed for named in facts.named.values())
    quorum = quorum_of(facts)
    state = ",".join(sorted(flags(facts.master or {}))) or "?"
    observed = (f"{facts.master_name} at {agreed}, named by {agreeing} of "
                f"{len(facts.listed)} sentinels (quorum {quorum}), flags {state}")
    others = {a: n for a, n in facts.named.items() if n != agreed}
    if others:
        observed += "; others name " + ", ".join(f"{n} ({a})" for a, n in others.items())
    if quorum is None or agreeing < quorum or is_down(facts.master or {}):
        return Result(FAIL, "sentinel.master", observed)
    return Result(PASS, "sentinel.master", observed)


def quorum(facts: SentinelFacts) -> Result:
    if facts.master is None:
        return Result(FAIL, "sentinel.quorum", f"{facts.ckquorum} (no SENTINEL MASTER reply)")
    others = facts.master.get("num-other-sentinels", "?")
    observed = f"{facts.ckquorum} (quorum {quorum_of(facts)}, num-other-sentinels {others})"
    return Result(PASS if facts.ckquorum_ok else FAIL, "sentinel.quorum", observed)


def replicas(facts: SentinelFacts) -> Result:
    if facts.replicas is None:
        return Result(FAIL, "sentinel.replicas", "not checked (no sentinel named the master)")
    if not facts.replicas:
        return Result(FAIL, "sentinel.replicas", "no replica: nothing to promote")
    synced = [address(r) for r in facts.replicas if in_sync(r)]
    lagging = [f"{address(r)} master-link-status {r.get('master-link-status', '?')}, "
               f"flags {r.get('flags', '?')}" for r in facts.replicas if not in_sync(r)]
    if lagging:
        return Result(FAIL, "sentinel.replicas", "; ".join(lagging))
    return Result(PASS, "sentinel.replicas",
                  f"{len(synced)} in sync ({', '.join(synced)}): master-link-status ok")


def auth(facts: SentinelFacts) -> Result:
    if facts.open_to_all:
        return Result(FAIL, "sentinel.auth", "PING answered without a password by "
                      + ", ".join(facts.open_to_all))
    answered = len(facts.listed) - len(facts.unreachable)
    return Result(PASS, "sentinel.auth", f"{answered} of {len(facts.listed)} refuse PING "
                                         "without a password")


def results(facts: SentinelFacts) -> list[Result]:
    return [reachable(facts), master(facts), quorum(facts), replicas(facts), auth(facts)]
