"""Live updates from the real bus (embedded NATS): ticks move the marks of positions a viewer
may see; position events are re-read with the viewer's own token, so nothing leaks."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal

from robson_contracts import FeedSource, TradeTick
from robson_contracts import subjects as s
from robson_dashboard.adapters.hub import Client, Event
from robson_dashboard.main import DashboardService
from robson_kit.bus import Bus

from .conftest import browser, open_stream


async def next_event(client: Client, kind: str, timeout: float = 5.0) -> Event:
    async def find() -> Event:
        while True:
            item = await client.queue.get()
            if item is not None and item[0] == kind:
                return item
    return await asyncio.wait_for(find(), timeout)


async def reader_and_admin(dashboard: DashboardService) -> tuple[Client, Client]:
    """Two streams past their snapshots: the token "reader" (the fake services let it read a1's
    positions) and the local operator (no token)."""
    reader = await dashboard.runtime.hub.connect("reader")
    admin = await dashboard.runtime.hub.connect(None)
    assert reader is not None and admin is not None
    for client in (reader, admin):
        await next_event(client, "snapshot")
    return reader, admin


async def running_hub(dashboard: DashboardService, bus: Bus) -> asyncio.Task[None]:
    task = asyncio.create_task(dashboard.runtime.hub.run(bus))
    await asyncio.sleep(0.2)  # subscriptions in place
    return task


async def test_a_tick_on_the_bus_moves_the_pnl_of_a_position_the_viewer_sees(
        dashboard: DashboardService, bus: Bus) -> None:
    task = await running_hub(dashboard, bus)
    try:
        client = await dashboard.runtime.hub.connect("reader")
        assert client is not None
        _, snapshot = await next_event(client, "snapshot")
        assert [p["position_id"] for p in snapshot["positions"]] == ["p1"]
        await bus.publish(TradeTick(occurred_at=datetime.now(UTC), symbol="BTCUSDT", price=Decimal("50100"),
                                    source=FeedSource.SYNTHETIC), s.tick("BTCUSDT"))
        _, mark = await next_event(client, "mark")
        assert (mark["position_id"], Decimal(mark["unrealized_pnl"])) == ("p1", Decimal("50"))
    finally:
        task.cancel()


async def test_a_position_event_reaches_only_viewers_whose_token_can_read_the_position(
        dashboard: DashboardService, bus: Bus) -> None:
    task = await running_hub(dashboard, bus)
    try:
        reader, admin = await reader_and_admin(dashboard)
        event = json.dumps({"message_type": "PositionModified", "position_id": "p2"}).encode()
        await bus.nc.publish("robson.position.evt.a2.BTCUSDT", event)
        _, seen = await next_event(admin, "position")
        assert seen["position"]["position_id"] == "p2"
        await asyncio.sleep(0.3)
        assert all(item is None or item[0] != "position" for item in _drain(reader))
    finally:
        task.cancel()


def _drain(client: Client) -> list[Event | None]:
    items = []
    while not client.queue.empty():
        items.append(client.queue.get_nowait())
    return items


async def test_a_live_stream_ends_when_its_session_is_signed_out(dashboard: DashboardService) -> None:
    """Signing out (or the session expiring) must stop the stream opened with it: another tab,
    or whoever holds the old session, must not go on receiving the positions' marks and re-read
    positions with the token the session held."""
    session = dashboard.runtime.sessions.open("reader", "token")
    sent, task = await open_stream(dashboard, session.session_id)
    try:
        start = await asyncio.wait_for(sent.get(), 5)
        assert start["type"] == "http.response.start" and start["status"] == 200
        chunks = [(await asyncio.wait_for(sent.get(), 5))["body"] for _ in range(2)]
        assert b"event: snapshot" in chunks[1]
        dashboard.runtime.sessions.close(session.session_id)  # DELETE /api/session
        for viewer in dashboard.runtime.hub.viewers.values():
            viewer.push("mark", {"position_id": "p1", "unrealized_pnl": "50"})
        after = await asyncio.wait_for(sent.get(), 5)
        assert b"event: mark" not in after.get("body", b"")
        assert after.get("more_body") is False  # the stream is over
    finally:
        task.cancel()


async def test_an_idle_stream_ends_at_once_when_its_session_signs_out(dashboard: DashboardService) -> None:
    """No event needs to come first: the stream of a signed-out session ends at the sign-out,
    not at its next event or keepalive (15 s later), and other sessions' streams go on."""
    session = dashboard.runtime.sessions.open("reader", "token")
    other = dashboard.runtime.sessions.open("reader", "token")  # the same token, another browser
    sent, task = await open_stream(dashboard, session.session_id)
    other_sent, other_task = await open_stream(dashboard, other.session_id)
    try:
        for queue in (sent, other_sent):
            assert (await asyncio.wait_for(queue.get(), 5))["status"] == 200
            for _ in range(2):  # retry hint, snapshot
                await asyncio.wait_for(queue.get(), 5)
        async with browser(dashboard) as client:
            client.cookies.set("robson_session", session.session_id)
            signed_out = await client.delete("/api/session", headers={"X-Robson-Request": "1"})
        assert signed_out.status_code == 200
        after = await asyncio.wait_for(sent.get(), 1)
        assert after.get("more_body") is False  # over, with no event or keepalive before
        for viewer in dashboard.runtime.hub.viewers.values():
            viewer.push("mark", {"position_id": "p1", "unrealized_pnl": "50"})
        assert b"event: mark" in (await asyncio.wait_for(other_sent.get(), 5))["body"]
    finally:
        task.cancel()
        other_task.cancel()
