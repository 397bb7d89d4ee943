"""Live updates for signed-in browsers, fed from the bus (plain NATS subscriptions: memory only,
nothing durable — a browser that connects gets a fresh snapshot, then the changes).

Each distinct token is one *viewer*: the open positions it may see are read from position's API
with that token, and a position event is followed by re-reading that position with it, so a
browser never learns of a position its token cannot read. Ticks then move those positions'
marks in memory (``domain.live``). A viewer whose token the services refuse (revoked, expired:
found by ``guard``, or by a service answering 401 to it) is ended, every stream of it at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from robson_contracts import subjects as s
from robson_kit import logs
from robson_kit.bus import Bus

from robson_dashboard.adapters.upstream import TokenRefused, Upstreams, UpstreamUnavailable
from robson_dashboard.domain.live import LivePosition

log = logs.get_logger(__name__)
Event = tuple[str, dict[str, Any]]
Refusal = Callable[[str | None], str | None]
"""A token → why the services would now refuse it (a reason code), or None while they take it."""
GUARD_SECONDS = 0.5
"""How often the viewers' tokens are judged again: a revocation ends their streams this long
after the process's revocation watch has applied it (milliseconds after ``robson token revoke``)."""


@dataclass(eq=False)
class Client:
    viewer: Viewer
    queue: asyncio.Queue[Event | None]
    session_id: str | None = None
    """The dashboard session the stream was opened in (signing it out ends the stream)."""

    def push(self, kind: str, data: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait((kind, data))
        except asyncio.QueueFull:  # too slow: end its stream; EventSource reconnects for a snapshot
            self.viewer.clients.discard(self)
            self.queue.get_nowait()
            self.queue.put_nowait(None)

    def end(self) -> None:
        """End the stream now: what is still waiting was for a token no longer taken."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


@dataclass(eq=False)
class Viewer:
    token: str | None
    clients: set[Client] = field(default_factory=set)
    positions: dict[str, LivePosition] = field(default_factory=dict)

    def push(self, kind: str, data: dict[str, Any]) -> None:
        for client in list(self.clients):
            client.push(kind, data)

    def track(self, view: dict[str, Any]) -> None:
        live = LivePosition.from_view(view)
        if live is None:
            self.positions.pop(str(view["position_id"]), None)
        else:
            self.positions[live.position_id] = live


class Hub:
    def __init__(self, upstreams: Upstreams, queue_size: int, max_clients: int) -> None:
        self.upstreams = upstreams
        self.queue_size = queue_size
        self.max_clients = max_clients
        self.viewers: dict[str | None, Viewer] = {}
        self.prices: dict[str, tuple[str, str]] = {}
        """symbol → (price, event time) of the last tick seen."""
        self._inflight: dict[tuple[int, str], asyncio.Task[None]] = {}
        self._dirty: set[tuple[int, str]] = set()

    @property
    def client_count(self) -> int:
        return sum(len(v.clients) for v in self.viewers.values())

    async def connect(self, token: str | None, session_id: str | None = None) -> Client | None:
        """A new stream for a browser, starting with a snapshot; None when full. ``TokenRefused``
        when position answers 401 to the token (every stream of it ends too)."""
        if self.client_count >= self.max_clients:
            return None
        viewer = self.viewers.get(token)
        if viewer is None:
            viewer = self.viewers[token] = Viewer(token)
        client = Client(viewer, asyncio.Queue(self.queue_size), session_id)
        viewer.clients.add(client)
        try:
            views = await self._open_positions(token) or []
        except TokenRefused:
            self.end(viewer, "refused by position")
            raise
        for view in views:
            viewer.track(view)
        client.push("snapshot", {"positions": views, "prices": {
            sym: {"price": p, "at": at} for sym, (p, at) in self.prices.items()}})
        return client

    def disconnect(self, client: Client) -> None:
        viewer = client.viewer
        viewer.clients.discard(client)
        if not viewer.clients and self.viewers.get(viewer.token) is viewer:  # not a newer one
            del self.viewers[viewer.token]

    def end(self, viewer: Viewer, reason: str) -> None:
        """Every stream of ``viewer`` ends, and nothing more is read with its token."""
        if viewer.clients:
            log.info("dashboard.streams_ended", reason=reason, streams=len(viewer.clients))
        for client in list(viewer.clients):
            client.end()
        viewer.clients.clear()
        if self.viewers.get(viewer.token) is viewer:
            del self.viewers[viewer.token]

    def end_session(self, session_id: str) -> None:
        """Every stream opened in the session ends now (signed out), not at its next event."""
        for viewer in list(self.viewers.values()):
            for client in [c for c in viewer.clients if c.session_id == session_id]:
                client.end()
                self.disconnect(client)

    async def guard(self, refusal: Refusal) -> None:
        """Judge every viewer's token again each ``GUARD_SECONDS``, for the process's life."""
        while True:
            await asyncio.sleep(GUARD_SECONDS)
            for viewer in list(self.viewers.values()):
                if (reason := refusal(viewer.token)) is not None:
                    self.end(viewer, reason)

    async def _open_positions(self, token: str | None) -> list[dict[str, Any]] | None:
        try:
            return await self.upstreams.read_json("position", "/positions", token, status="open")
        except UpstreamUnavailable:
            return None

    async def run(self, bus: Bus) -> None:
        subs = [await bus.nc.subscribe(s.ALL_TICKS, cb=self._on_tick),
                await bus.nc.subscribe(s.ALL_POSITION_EVENTS, cb=self._on_position_event),
                await bus.nc.subscribe(s.ALL_TRADER_EVENTS, cb=self._on_hint("trader")),
                await bus.nc.subscribe(s.ALL_RISK_EVENTS, cb=self._on_hint("risk")),
                await bus.nc.subscribe(s.ALL_BALANCES, cb=self._on_hint("balance"))]
        try:
            await asyncio.Event().wait()
        finally:
            for sub in subs:
                await sub.unsubscribe()

    async def _on_tick(self, msg: Any) -> None:
        try:
            body = json.loads(msg.data)
            symbol, price, at = str(body["symbol"]), Decimal(str(body["price"])), str(body["occurred_at"])
        except (ValueError, KeyError, TypeError, InvalidOperation):
            return  # not a tick this page can show; the services dead-letter bad ones
        self.prices[symbol] = (format(price, "f"), at)
        tick = {"symbol": symbol, "price": format(price, "f"), "at": at}
        for viewer in list(self.viewers.values()):
            viewer.push("tick", tick)
            for live in list(viewer.positions.values()):
                if live.symbol == symbol:
                    viewer.push("mark", live.mark(price) | {"at": at})

    async def _on_position_event(self, msg: Any) -> None:
        try:
            body = json.loads(msg.data)
            position_id, kind = str(body["position_id"]), str(body.get("message_type", ""))
        except (ValueError, KeyError, TypeError):
            return
        for viewer in list(self.viewers.values()):
            key = (id(viewer), position_id)
            if key in self._inflight:  # read again once the read in flight is done: no reordering
                self._dirty.add(key)
                continue
            self._inflight[key] = asyncio.create_task(self._refresh_until_clean(key, viewer, position_id, kind))

    async def _refresh_until_clean(self, key: tuple[int, str], viewer: Viewer, position_id: str,
                                   kind: str) -> None:
        try:
            while True:
                self._dirty.discard(key)
                await self._refresh(viewer, position_id, kind)
                if key not in self._dirty:
                    return
        finally:
            self._inflight.pop(key, None)

    async def _refresh(self, viewer: Viewer, position_id: str, kind: str) -> None:
        try:
            view = await self.upstreams.read_json("position", f"/positions/{position_id}", viewer.token)
        except UpstreamUnavailable as exc:
            log.warning("dashboard.position_refresh_failed", position_id=position_id, error=str(exc))
            return
        except TokenRefused:
            self.end(viewer, "refused by position")
            return
        if view is None:  # not this token's to see
            return
        viewer.track(view)
        viewer.push("position", {"event": kind, "position": view})

    def _on_hint(self, topic: str) -> Any:
        async def hint(msg: Any) -> None:
            for viewer in list(self.viewers.values()):
                viewer.push("refresh", {"topic": topic})
        return hint
