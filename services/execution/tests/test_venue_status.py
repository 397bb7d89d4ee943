"""VenueStatusChanged on real NATS + Postgres against the fake exchange: a symbol's breaker
opening and closing is told once per transition, not once per failed request."""

from __future__ import annotations

import httpx
from robson_contracts.alerts import VenueStatus
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .conftest import enable_live
from .fakes import FakeBinance, Fault
from .helpers import account_events, of, order_events, submit


async def _statuses(bus: Bus, *wanted: VenueStatus) -> list | None:
    found = of(await account_events(bus), "VenueStatusChanged")
    return found if {m.status for m in found} >= set(wanted) else None


async def test_breaker_opening_and_closing_is_told_once_each_to_the_live_account(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    fake.refuse_streams = True
    await enable_live(api)
    await wait_until(lambda: _has_reconciled(bus), timeout=15, message="reconciliation")
    fake.inject(Fault("GET", "order", "503", times=100))
    fake.inject(Fault("POST", "order", "503", times=1))
    await bus.publish(submit("v1"))
    (opened,) = await wait_until(lambda: _statuses(bus, VenueStatus.CIRCUIT_OPEN),
                                 message="circuit open told")
    assert opened.symbol == "BTCUSDT" and opened.venue == "binance" and opened.detail
    fake.faults.clear()
    await wait_until(lambda: _filled(bus, "v1"), message="fill after the breaker closes")
    told = await wait_until(lambda: _statuses(bus, VenueStatus.CIRCUIT_OPEN,
                                              VenueStatus.CIRCUIT_CLOSED),
                            message="circuit closed told")
    failures = [m for m, path, _ in fake.requests if path == "order" and m == "GET"]
    assert len(failures) > 1  # many failed requests ...
    assert [m.status for m in told] == [VenueStatus.CIRCUIT_OPEN, VenueStatus.CIRCUIT_CLOSED]
    assert {m.account_id for m in told} == {opened.account_id}


async def _has_reconciled(bus: Bus) -> bool:
    return bool(of(await account_events(bus), "ReconciliationCompleted"))


async def _filled(bus: Bus, order_id: str) -> bool:
    return bool(of(await order_events(bus), "OrderFilled", order_id))


async def test_venue_that_stops_answering_is_told_unreachable_once_then_reachable(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    fake.refuse_streams = True
    await enable_live(api)
    await wait_until(lambda: _has_reconciled(bus), timeout=15, message="reconciliation")
    assert await _statuses(bus, VenueStatus.UNREACHABLE) is None  # a healthy start tells nothing
    fake.inject(Fault("GET", "account", "503", times=1000))
    for _ in range(3):
        assert (await api.post("/accounts/acc1/reconcile")).status_code == 409
    (down,) = await wait_until(lambda: _statuses(bus, VenueStatus.UNREACHABLE),
                               message="unreachable told")
    assert down.account_id == "acc1" and down.symbol is None and down.detail
    fake.faults.clear()
    assert (await api.post("/accounts/acc1/reconcile")).status_code == 200
    assert (await api.post("/accounts/acc1/reconcile")).status_code == 200
    told = await wait_until(lambda: _statuses(bus, VenueStatus.UNREACHABLE,
                                              VenueStatus.REACHABLE), message="reachable told")
    assert [m.status for m in told] == [VenueStatus.UNREACHABLE, VenueStatus.REACHABLE]
