"""The Redis Cluster link: one `RedisLink` per master, each key sent to its
slot's master.

    execute(commands) ─► slot of each command's key ─► that master's link
        (its own auto-pipeline, tracking connection, subscriber, state
        machine, journal stream and backoff: a cluster is N single links)
        ├─ master's link not ready ─► None: the caller serves from memory
        ├─ MOVED ─► follow it in the slot map, refresh the map, resend
        └─ ASK ─► resend once to the named node, each command after ASKING

    supervisor ("cluster" stream, the same state machine): learn the slot
    map (service.link.slotmap), then keep it fresh, at once when a master's
    link leaves ready and every FAST_REFRESH_S until all are ready again
    (a replica is promoted a few seconds after its master dies), every
    SLOW_REFRESH_S otherwise. A new master gets a link; a node that is no
    longer a master has its link closed.

The cluster as a whole is ready when the map is known and every master's
link is ready; its state for health is the worst of all the streams'.
Reconnect work (the outbox, forgetting memory) is done per master for the
keys of that master's slots (`NodeListener`).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import AskError, MovedError

from service.link.classify import classify, describe
from service.link.driver import RedisLink
from service.link.node_listener import NodeListener
from service.link.routing import after_asking, key_of
from service.link.session import LinkListener, Request
from service.link.slotmap import SlotMap
from statemachine.aggregate import combined, worst_state
from statemachine.clock import Clock
from statemachine.events import BackoffScheduled, LinkEvent
from statemachine.journal import Journal
from statemachine.lifecycle import ConnectionLifecycle
from statemachine.projections import LinkView
from statemachine.states import State

if TYPE_CHECKING:
    from service.link.interface import Link

log = logging.getLogger("roleready.redis.cluster")

FAST_REFRESH_S = 0.5
SLOW_REFRESH_S = 10.0
MAX_REDIRECTIONS = 5
# Closed masters' journal streams kept for /health/events.
RETIRED_STREAMS = 8

# Makes the (not yet started) link of the master at "host:port".
NodeLinkMaker = Callable[[str], RedisLink]


class ClusterLink:
    def __init__(
        self,
        lifecycle: ConnectionLifecycle,
        slot_map: SlotMap,
        make_node_link: NodeLinkMaker,
        *,
        clock: Clock,
        lazy: bool,
        refresh_timeout_s: float,
    ) -> None:
        self.lifecycle = lifecycle  # the "cluster" stream: the slot map's
        self.slots = slot_map
        self._make_node_link = make_node_link
        self._clock = clock
        self._lazy = lazy
        self._refresh_timeout_s = refresh_timeout_s
        self._listener: LinkListener | None = None
        self.nodes: dict[str, RedisLink] = {}
        self._retired: dict[str, Journal] = {}
        self._mapped_once = False
        # The masters of the first map: only they make the first connect.
        self._first_map: set[str] = set()
        self._ready = False
        self._wake = asyncio.Event()
        self._refresh_now = asyncio.Event()
        self._became_ready = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        lifecycle.journal.subscribe(self._noted)

    # -- what the service asks (service.link.interface.Link) --------------

    enabled = True
    mode = "cluster"

    @property
    def listener(self) -> LinkListener | None:
        return self._listener

    @listener.setter
    def listener(self, listener: LinkListener | None) -> None:
        self._listener = listener
        for name, node in self.nodes.items():
            node.listener = self._node_listener(name)

    @property
    def state(self) -> str:
        return worst_state([self.lifecycle.state, *(n.state for n in self.nodes.values())])

    @property
    def view(self) -> LinkView:
        views = [self.lifecycle.view, *(n.view for n in self.nodes.values())]
        return combined(views)

    def masters(self) -> list[Link]:
        return list(self.nodes.values())

    def is_ready(self) -> bool:
        return self._ready

    def topology(self) -> dict[str, Any]:
        counts = self.slots.slot_counts()
        return {
            "mode": self.mode,
            "state": self.lifecycle.state,
            "nodes": [
                {"address": name, "role": "master", "state": node.state,
                 "slots": counts.get(name, 0), "replicas": self.slots.replicas.get(name, [])}
                for name, node in sorted(self.nodes.items())
            ],
        }

    def recent_events(self, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """Every stream's newest events, merged by time, each naming its
        stream ("cluster" or a master's address)."""
        streams = {"cluster": self.lifecycle.journal, **self._retired}
        streams.update((name, node.lifecycle.journal) for name, node in self.nodes.items())
        dropped = sum(journal.dropped for journal in streams.values())
        merged = heapq.merge(
            *([(e.wall, name, e) for e in journal.events(limit)] for name, journal in streams.items()),
            key=lambda item: item[0],
        )
        recent = list(merged)[-limit:]
        return dropped, [{**event.to_dict(), "stream": name} for _, name, event in recent]

    async def execute(
        self, commands: Sequence[Request], *, retries: int = 0
    ) -> list[Any] | None:
        if not self._wake.is_set():
            self._wake.set()  # lazy connect: the first use starts the link
        groups: dict[str, list[int]] = {}
        for index, command in enumerate(commands):
            master = self._master_for(command)
            if master is None:
                return None
            groups.setdefault(master, []).append(index)
        if len(groups) == 1:
            (master,) = groups
            return await self._on_master(master, commands, retries)
        parts = await asyncio.gather(*(
            self._on_master(master, [commands[i] for i in indexes], retries)
            for master, indexes in groups.items()
        ))
        replies: list[Any] = [None] * len(commands)
        for indexes, part in zip(groups.values(), parts, strict=True):
            if part is None:
                return None
            for index, reply in zip(indexes, part, strict=True):
                replies[index] = reply
        return replies

    async def first_connect(self, timeout_s: float) -> None:
        """Give a cluster still making its first connects (the map, or a
        master's first attempt) up to `timeout_s` to be ready; return at once
        otherwise (a master that failed its first attempt is not waited for
        on every health check)."""
        first = (State.DISCONNECTED, State.CONNECTING)
        connecting = self.lifecycle.state in first or any(
            node.state in first for node in self.nodes.values())
        if not self._became_ready.is_set() and connecting:
            self._wake.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._became_ready.wait()

    def hurry(self) -> None:
        self._wake.set()
        self._refresh_now.set()
        for node in self.nodes.values():
            node.hurry()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="redis-cluster-supervisor")
        if not self._lazy:
            self._wake.set()

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.gather(*(node.close() for node in self.nodes.values()))
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        self.lifecycle.close()

    # -- routing -----------------------------------------------------------

    def _master_for(self, command: Request) -> str | None:
        key = key_of(command)
        if key is None:
            return next((n for n, node in self.nodes.items() if node.is_ready()), None)
        return self.slots.master_of(key)

    async def _on_master(
        self, master: str, commands: Sequence[Request], retries: int
    ) -> list[Any] | None:
        asking = False
        for _ in range(MAX_REDIRECTIONS):
            node = self.nodes.get(master)
            if node is None:
                return None
            try:
                if not asking:
                    return await node.execute(commands, retries=retries)
                replies = await node.execute(after_asking(commands), retries=retries)
                return None if replies is None else replies[1::2]
            except AskError as redirect:  # MovedError is one
                master = f"{redirect.host}:{redirect.port}"
                asking = not isinstance(redirect, MovedError)
                if not asking:
                    self.slots.moved(redirect.slot_id, master)
                    self._refresh_now.set()
                    self._ensure_node(master)
        return None

    # -- the slot map and the masters' links -------------------------------

    async def _supervise(self) -> None:
        await self._wake.wait()
        if self._closing:
            return
        self.lifecycle.start_connect()
        while True:
            if await self._refreshed():
                self.lifecycle.connected()
                await self._keep_fresh()
                if self._closing:
                    return
                self.lifecycle.disconnected("slot map refresh failed")
            plan = self.lifecycle.schedule_retry()
            delay = plan.delay_s if isinstance(plan, BackoffScheduled) else plan.probe_in_s
            await self._clock.sleep(delay)
            if self._closing:
                return
            self.lifecycle.start_attempt()

    async def _keep_fresh(self) -> None:
        """Refresh the map until a refresh drops the stream (or close)."""
        while not self._closing:
            all_ready = all(node.is_ready() for node in self.nodes.values())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SLOW_REFRESH_S if all_ready else FAST_REFRESH_S):
                    await self._refresh_now.wait()
            self._refresh_now.clear()
            if not await self._refreshed() and not self.lifecycle.is_ready():
                return

    async def _refreshed(self) -> bool:
        try:
            async with asyncio.timeout(self._refresh_timeout_s):
                await self.slots.refresh()
        except Exception as exc:  # noqa: BLE001 - any failure to learn the map
            cause = exc.__cause__ or exc
            if not self._closing:
                self.lifecycle.error_seen(classify(cause), describe(exc))
            return False
        self._reconcile()
        return True

    def _reconcile(self) -> None:
        masters = set(self.slots.masters())
        for master in sorted(masters - set(self.nodes)):
            self._ensure_node(master)
        for gone in sorted(set(self.nodes) - masters):
            self._retire(gone)
        self._mapped_once = True
        self._recompute()

    def _ensure_node(self, master: str) -> None:
        if master in self.nodes or self._closing:
            return
        node = self._make_node_link(master)
        if not self._mapped_once:
            self._first_map.add(master)
        node.listener = self._node_listener(master)
        node.lifecycle.journal.subscribe(self._noted)
        self.nodes[master] = node
        log.info("cluster master %s joined (%d masters)", master, len(self.nodes))
        self._background.add(task := asyncio.create_task(node.start()))
        task.add_done_callback(self._background.discard)

    def _retire(self, master: str) -> None:
        node = self.nodes.pop(master)
        log.info("cluster node %s is no longer a master: its link is closed", master)
        self._retired[master] = node.lifecycle.journal
        while len(self._retired) > RETIRED_STREAMS:
            del self._retired[next(iter(self._retired))]
        self._background.add(task := asyncio.create_task(node.close()))
        task.add_done_callback(self._background.discard)

    def _node_listener(self, master: str) -> LinkListener | None:
        if self._listener is None:
            return None
        slots = self.slots
        return NodeListener(
            self._listener,
            owns=lambda redis_key: slots.master_of(redis_key) == master,
            others_ready=lambda: self._others_ready(master),
            initial=master in self._first_map,
        )

    def _noted(self, event: LinkEvent) -> None:
        """Any stream's event: the cluster's readiness is recomputed, and a
        master leaving ready asks for the map at once (a failover)."""
        if event.source == State.READY and event.dest != State.READY:
            self._refresh_now.set()
        self._recompute()

    def _recompute(self) -> None:
        ready = (
            self.lifecycle.is_ready()
            and bool(self.nodes)
            and all(node.is_ready() for node in self.nodes.values())
        )
        self._ready = ready
        if ready:
            self._became_ready.set()

    def _others_ready(self, master: str) -> bool:
        return all(node.is_ready() for name, node in self.nodes.items() if name != master)
