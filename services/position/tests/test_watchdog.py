"""The stop watchdog against the fake venue (over its HTTP API, as paper's): a stop lost at the
venue is placed again within the grace period; one that cannot be restored ends in a close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from robson_contracts import ExitReason, PositionError
from robson_kit.bus import Bus
from robson_kit.testing import asgi_client, read_stream, service_starter, wait_until
from robson_position.domain.orders import position_id_for
from robson_position.main import build_service
from robson_position.settings import PositionSettings

from .factories import D, gate
from .fakevenue import FakeVenue
from .test_integration import status_is
from .venuebook import VenueApi

GRACE = 1.0


@pytest_asyncio.fixture
async def started(bus: Bus, nats_url: str, database_url: str, schema: str,
                  venue_api: VenueApi) -> AsyncIterator[httpx.AsyncClient]:
    def settings(paper_url: str) -> PositionSettings:
        return PositionSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                ack_wait_seconds=2, outbox_poll_seconds=0.2, paper_url=paper_url,
                                resync_on_start=False, stop_watchdog_interval_seconds=0.2,
                                stop_watchdog_grace_seconds=GRACE)
    async with service_starter(build_service, settings) as start:
        service = await start(venue_api.url)
        async with asgi_client(service, "http://position") as api:
            yield api


async def _open(bus: Bus, api: httpx.AsyncClient, venue: FakeVenue, gate_id: str = "g1") -> str:
    g = gate(tps=(), gate_id=gate_id, trader=f"t-{gate_id}")
    pid = position_id_for(g.gate_decision_id)
    await bus.publish(g)
    await wait_until(status_is(api, pid, "OPEN"), message="open")
    await wait_until(lambda: _stop_resting(venue, pid), message="stop resting at the venue")
    return pid


async def _stop_resting(venue: FakeVenue, pid: str, price: D = D("49000")) -> str | None:
    return next((oid for oid, o in venue.resting.items()
                 if o.position_id == pid and o.spec.stop_price == price), None)


async def _errors(bus: Bus, code: str) -> list[PositionError] | None:
    found = [m for m in await read_stream(bus, "robson.position.evt.>")
             if isinstance(m, PositionError) and m.reason_code == code]
    return found or None


async def test_stop_lost_at_the_venue_is_placed_again_audited_and_published(
    bus: Bus, venue: FakeVenue, started: httpx.AsyncClient
) -> None:
    api = started
    pid = await _open(bus, api, venue)
    lost = await _stop_resting(venue, pid)
    venue.drop(lost)
    again = await wait_until(lambda: _stop_resting(venue, pid), message="stop placed again")
    assert again != lost
    [report] = await wait_until(lambda: _errors(bus, "STOP_MISSING"), message="published")
    assert report.position_id == pid
    audit = (await api.get(f"/positions/{pid}/modifications")).json()
    assert [r["verdict"] for r in audit if r["kind"] == "REPROTECT"] == ["APPLIED"]
    view = (await api.get(f"/positions/{pid}")).json()
    assert view["status"] == "OPEN" and D(view["stop_loss"]) == D("49000")


async def test_protected_positions_cost_one_venue_read_per_round(
    bus: Bus, venue: FakeVenue, started: httpx.AsyncClient
) -> None:
    """Three positions, their stops resting: each round reads paper's live orders once (all
    accounts'), and no position's own orders or fills (a round used to read both for every
    position, then an account's live orders for each account)."""
    api = started
    for gate_id in ("g1", "g2", "g3"):
        await _open(bus, api, venue, gate_id)
    await asyncio.sleep(0.5)  # rounds that saw a stop still on its way are over
    before = dict(venue.book.reads)
    await asyncio.sleep(1.0)  # about five rounds at 0.2 s
    reads = {k: v - before.get(k, 0) for k, v in venue.book.reads.items()}
    assert reads.get("live_orders", 0) >= 3 and reads.get("account_orders", 0) == 0
    assert reads.get("position_orders", 0) == 0 and reads.get("fills", 0) == 0
    assert await _errors(bus, "STOP_MISSING") is None


async def test_stop_that_cannot_be_restored_within_the_grace_closes_the_position(
    bus: Bus, venue: FakeVenue, started: httpx.AsyncClient
) -> None:
    api = started
    pid = await _open(bus, api, venue)
    lost = await _stop_resting(venue, pid)
    await venue.stop()  # the venue takes no more orders (its API still answers): no new stop
    venue.drop(lost)
    await wait_until(lambda: _errors(bus, "STOP_MISSING"), message="re-protection tried")
    closing = await wait_until(status_is(api, pid, "CLOSING"), message="closed after the grace")
    [report] = await wait_until(lambda: _errors(bus, "STOP_NOT_RESTORED"), message="published")
    assert report.position_id == pid and f"grace {GRACE:g}s" in report.message
    audit = (await api.get(f"/positions/{pid}/modifications")).json()
    assert any(r["kind"] == "CLOSE" and r["verdict"] == "APPLIED" for r in audit)
    assert closing["status"] == "CLOSING"
    assert ExitReason.RISK_LIMIT.value in {r["request"].get("reason") for r in audit
                                           if r["kind"] == "CLOSE"}


async def test_stop_being_replaced_still_protects_while_the_venue_has_not_taken_the_command(
    bus: Bus, venue: FakeVenue, started: httpx.AsyncClient
) -> None:
    """A moved stop is a new order the venue has not heard of until it takes the command;
    meanwhile the old stop still rests there: no lost stop (re-protecting would cancel it)."""
    api = started
    pid = await _open(bus, api, venue)
    await _hold_commands(venue)
    moved = await api.put(f"/positions/{pid}/stop-loss", json={"price": "49500"})
    assert moved.status_code == 200, moved.text
    await asyncio.sleep(GRACE * 1.5)  # watchdog rounds past the grace while the command waits
    venue.taking.set()
    await wait_until(lambda: _stop_resting(venue, pid, D("49500")), message="moved stop resting")
    await asyncio.sleep(GRACE)  # rounds with the new stop working
    assert await _errors(bus, "STOP_MISSING") is None
    audit = (await api.get(f"/positions/{pid}/modifications")).json()
    assert [r["kind"] for r in audit if r["kind"] == "REPROTECT"] == []
    assert [o.spec.stop_price for o in venue.resting.values() if o.position_id == pid] == [D("49500")]


async def test_new_stop_on_its_way_is_given_the_grace_before_it_counts_as_missing(
    bus: Bus, venue: FakeVenue, started: httpx.AsyncClient
) -> None:
    """No stop of the position rests at the venue, but the one it just placed has not reached
    it yet: missing only once the grace has passed; then placed again."""
    api = started
    pid = await _open(bus, api, venue)
    await _hold_commands(venue)
    moved = await api.put(f"/positions/{pid}/stop-loss", json={"price": "49500"})
    assert moved.status_code == 200, moved.text
    venue.drop(await _stop_resting(venue, pid))  # and the venue loses the old one meanwhile
    await asyncio.sleep(GRACE * 0.6)
    assert await _errors(bus, "STOP_MISSING") is None  # within the grace: on its way
    await wait_until(lambda: _errors(bus, "STOP_MISSING"), timeout=GRACE * 5, message="missing")
    venue.taking.set()
    await wait_until(lambda: _stop_resting(venue, pid, D("49500")), message="stop placed again")
    view = (await api.get(f"/positions/{pid}")).json()
    assert view["status"] == "OPEN"


async def _hold_commands(venue: FakeVenue) -> None:
    venue.taking.clear()  # commands wait in the stream, as when the venue is a moment behind
    await asyncio.sleep(0.3)  # a fetch already under way ends


class _DatabaseMustNotBeRead:
    """A service stand-in for the idle case: connected, and its database is off limits."""

    class bus:
        is_connected = True

    def uow(self) -> None:
        raise AssertionError("the watchdog read the positions table with nothing active")


async def test_watchdog_with_no_active_position_reads_nothing_and_forgets_its_timers() -> None:
    from datetime import UTC, datetime

    from robson_position.handlers.runtime import Runtime
    from robson_position.handlers.watchdog import StopWatchdog

    watchdog = StopWatchdog(GRACE)
    watchdog.missing_since["gone"] = datetime(2026, 1, 5, tzinfo=UTC)
    await watchdog.check_all(_DatabaseMustNotBeRead(), Runtime(), venues=None)  # type: ignore[arg-type]
    assert not watchdog.missing_since
