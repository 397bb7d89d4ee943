"""SIGKILL with an open bracket; while position is down the venue fills, cancels and loses orders
and none of it reaches the bus; on restart position re-syncs with the venue's HTTP API."""

from __future__ import annotations

import asyncpg
import httpx
from robson_contracts import SubmitOcoOrder
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import ADMIN_HEADERS, ServiceProcess, wait_until
from robson_position.domain.orders import position_id_for

from .conftest import position_env
from .factories import T0, D, gate, minutes
from .fakevenue import FakeVenue
from .venuebook import VenueApi

PORT_ENV = "ROBSON_POSITION_HTTP_PORT"


async def _get(url: str, path: str) -> dict | list | None:
    async with httpx.AsyncClient(headers=ADMIN_HEADERS, base_url=url, timeout=5) as c:
        r = await c.get(path)
    return r.json() if r.status_code == 200 else None


def _position_where(url: str, pid: str, cond):
    async def check() -> dict | None:
        view = await _get(url, f"/positions/{pid}")
        return view if view and cond(view) else None
    return check


def _accepted(view: dict, *suffixes: str) -> bool:
    got = {o["order_id"].rsplit("-", 1)[1] for o in view["orders"] if o.get("accepted")}
    return set(suffixes) <= got


async def _resync_done(url: str) -> dict | None:
    report = await _get(url, "/resync/last")
    return report if report and report["complete"] else None


async def _orders_consumed(bus: Bus) -> bool:
    info = await bus.js.consumer_info(s.ORDERS.name, "position_orders")
    return info.num_pending == 0 and info.num_ack_pending == 0


async def _fill_count(database_url: str, schema: str, pid: str) -> int:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        return await conn.fetchval("SELECT count(*) FROM fills WHERE position_id=$1", pid)
    finally:
        await conn.close()


async def test_restart_after_venue_events_were_lost_resyncs_fills_cancels_and_missing_orders_once(
    bus: Bus, venue: FakeVenue, venue_api: VenueApi, nats_url: str, database_url: str, schema: str, tmp_path
) -> None:
    env = position_env(nats_url, database_url, schema, paper_url=venue_api.url)
    first = ServiceProcess("robson_position", env, PORT_ENV, tmp_path / "a.log").start()
    second = None
    try:
        g = gate(gate_id="g-resync")
        pid = position_id_for(g.gate_decision_id)
        await bus.publish(g)
        await wait_until(_position_where(first.url, pid, lambda v: v["status"] == "OPEN"
                                         and _accepted(v, "0T0", "0S0", "0T1", "0S1")),
                         message="open with both OCOs accepted")
        first.kill()
        venue.muted = True  # nothing the venue does from now reaches the bus
        await venue.move("51000", T0 + minutes(3))  # TP1 fills, its OCO stop is canceled
        venue.drop(f"{pid}-0S1")  # and the venue loses the stop guarding the rest
        second = ServiceProcess("robson_position", env, PORT_ENV, tmp_path / "b.log").start()
        report = await wait_until(lambda: _resync_done(second.url), timeout=30, message="start-up re-sync")
        venue.muted = False

        kinds = {(f["kind"], f["order_id"]) for f in report["findings"] if f["position_id"] == pid}
        assert {("MISSED_FILL", f"{pid}-0T0"), ("ORDER_CANCELED", f"{pid}-0S0"),
                ("ORDER_MISSING", f"{pid}-0S1"), ("REPROTECTED", None)} <= kinds
        view = await _get(second.url, f"/positions/{pid}")
        assert view["status"] == "PARTIALLY_CLOSED" and D(view["realized_pnl"]) == D("89.9")
        audit = await _get(second.url, f"/positions/{pid}/modifications")
        assert {(a["kind"], a["triggered_by"]) for a in audit} >= {("MISSED_FILL", "RESYNC"),
                                                                    ("ORDER_MISSING", "RESYNC")}
        # protection for the remaining 0.1 is placed again under new order ids
        await wait_until(lambda: _has_resting(venue, f"{pid}-1S1", f"{pid}-1T1"), message="re-protected")
        assert any(isinstance(c, SubmitOcoOrder) and c.quantity == D("0.1") for c in venue.commands)

        for lost in venue.lost:  # the lost events turn up after all: nothing counts twice
            await bus.publish(lost)
        await wait_until(lambda: _orders_consumed(bus), message="late events consumed")
        view = await _get(second.url, f"/positions/{pid}")
        assert D(view["realized_pnl"]) == D("89.9") and len(view["closes"]) == 1
        assert await _fill_count(database_url, schema, pid) == 2

        await venue.move("52000", T0 + minutes(20))  # the re-placed TP2 fills the rest
        view = await wait_until(_position_where(second.url, pid, lambda v: v["status"] == "CLOSED"),
                                timeout=30, message="closed by TP2")
        # TP2: 0.1 × 2000 gross − 5.2 exit fee − 5 entry-fee share = 189.8
        assert D(view["realized_pnl"]) == D("279.7")
        assert await _fill_count(database_url, schema, pid) == 3
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.stop()


async def _has_resting(venue: FakeVenue, *order_ids: str) -> bool:
    return all(o in venue.resting for o in order_ids)
