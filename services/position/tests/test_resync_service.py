"""Re-sync in-process: the report API, a venue unreachable at start-up, and the execution reader."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from robson_contracts import OrderRole, OrderType, Side
from robson_kit.bus import Bus
from robson_kit.errors import ConflictError
from robson_kit.testing import asgi_client, service_starter, wait_until
from robson_position.adapters.repository import Audit, Positions
from robson_position.adapters.venues import ExecutionReader, PaperReader, Venues
from robson_position.deps import PositionService
from robson_position.domain.lifecycle import open_position
from robson_position.domain.orders import position_id_for
from robson_position.domain.venueview import VenueView
from robson_position.handlers.resync import resync_position
from robson_position.main import build_service
from robson_position.settings import PositionSettings

from .factories import T0, D, accepted, filled, gate, minutes
from .fakevenue import FakeVenue
from .test_integration import status_is
from .venuebook import VenueApi, VenueBook


@pytest_asyncio.fixture
async def starter(bus: Bus, nats_url: str, database_url: str, schema: str) -> AsyncIterator:
    def settings(paper_url: str, **overrides: object) -> PositionSettings:
        return PositionSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                ack_wait_seconds=2, outbox_poll_seconds=0.2, paper_url=paper_url,
                                resync_retry_seconds=0.2,
                                **{"stop_watchdog_interval_seconds": 0, **overrides})
    async with service_starter(build_service, settings) as start:
        yield start


async def test_resync_report_is_404_before_any_run_and_manual_run_reports_checked_positions(
    service: PositionService, api: httpx.AsyncClient
) -> None:
    r = await api.get("/resync/last")
    assert r.status_code == 404 and "no re-sync" in r.json()["detail"]
    r = await api.post("/resync")
    assert r.status_code == 200
    body = r.json()
    assert body["trigger"] == "MANUAL" and body["complete"] and body["positions_checked"] == 0
    assert (await api.get("/resync/last")).json()["started_at"] == body["started_at"]


async def test_start_up_resync_retries_while_venue_is_down_then_applies_the_missed_fill(
    starter, venue: FakeVenue, venue_api: VenueApi, bus: Bus
) -> None:
    first: PositionService = await starter(venue_api.url, resync_on_start=False)
    g = gate(gate_id="g-down")
    pid = position_id_for(g.gate_decision_id)
    async with asgi_client(first, "http://position") as api:
        await bus.publish(g)
        await wait_until(status_is(api, pid, "OPEN"), message="open")
        await wait_until(lambda: _all_accepted(api, pid), message="children accepted")
    await first.stop()
    venue.muted = True
    await venue.move("51000", T0 + minutes(3))
    venue.book.down = True
    second: PositionService = await starter(venue_api.url)
    async with asgi_client(second, "http://position") as api:
        report = await wait_until(lambda: _report_with_errors(api), message="a failed attempt")
        assert report["errors"][0]["position_id"] == pid and "503" in report["errors"][0]["error"]
        venue.book.down = False
        report = await wait_until(lambda: _complete(api), message="re-sync once the venue is back")
        assert report["attempts"] >= 2 and report["positions_changed"] == 1
        assert ("MISSED_FILL", f"{pid}-0T0") in {(f["kind"], f["order_id"]) for f in report["findings"]}
        view = await wait_until(status_is(api, pid, "PARTIALLY_CLOSED"), message="TP1 applied")
        assert D(view["realized_pnl"]) == D("89.9")


async def _all_accepted(api: httpx.AsyncClient, pid: str) -> bool:
    view = (await api.get(f"/positions/{pid}")).json()
    return sum(1 for o in view["orders"] if o["accepted"]) == 5


async def _report_with_errors(api: httpx.AsyncClient) -> dict | None:
    r = await api.get("/resync/last")
    return r.json() if r.status_code == 200 and r.json()["errors"] else None


async def _complete(api: httpx.AsyncClient) -> dict | None:
    r = await api.get("/resync/last")
    return r.json() if r.status_code == 200 and r.json()["complete"] else None


async def test_paper_and_execution_readers_see_the_same_orders_and_fills() -> None:
    p = open_position(gate(), "PAPER", T0)
    pid = p.s.position_id
    book = VenueBook()
    book.record(accepted(pid, f"{pid}-0E", OrderRole.ENTRY, "0.2", Side.BUY, OrderType.MARKET))
    book.record(filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY))
    book.record(accepted(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "0.2", Side.SELL, OrderType.STOP_MARKET,
                         stop="49000"))
    book.record(accepted("other", "other-0E", OrderRole.ENTRY, "1", Side.BUY, OrderType.MARKET))
    served = await VenueApi(book).start()
    venues = Venues({"PAPER": PaperReader(served.url, 5), "LIVE": ExecutionReader(served.url, 5)})
    try:
        paper = await venues.view(p.s)
        live = await venues.view(p.s.model_copy(update={"venue": "LIVE"}))
    finally:
        await venues.close()
        await served.stop()
    for view in (paper, live):
        assert [(o.order_id, o.status, o.filled_qty) for o in view.orders] == [
            (f"{pid}-0E", "FILLED", D("0.2")), (f"{pid}-0S", "NEW", D("0"))]
        assert [(f.order_id, f.price, f.quantity, f.fee) for f in view.fills] == [
            (f"{pid}-0E", D("50000"), D("0.2"), D("10"))]
    assert paper.fills[0].fill_id == f"f-{pid}-0E"
    assert live.fills[0].fill_id == "BTCUSDT-1"  # execution's "<symbol>-<trade id>"


async def test_resync_of_a_position_changed_since_the_venue_was_read_is_a_conflict(service: PositionService) -> None:
    p = open_position(gate(gate_id="g-stale"), "PAPER", T0)
    rt = service.deps.runtime
    async with service.uow() as uow:
        await Positions(uow.session).add(p)
    with pytest.raises(ConflictError):
        async with service.uow() as uow:
            await resync_position(uow, rt, p.s.position_id, VenueView(), expected_version=0)
    async with service.uow() as uow:
        findings = await resync_position(uow, rt, p.s.position_id, VenueView(), expected_version=1)
    assert [(f.kind, f.applied) for f in findings] == [("NOT_AT_VENUE", False)]
    async with service.uow() as uow:
        audit = await Audit(uow.session).history(p.s.position_id)
    assert [(a["kind"], a["triggered_by"], a["verdict"]) for a in audit] == [("NOT_AT_VENUE", "RESYNC", "NOTED")]
