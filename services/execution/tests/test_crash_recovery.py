"""SIGKILL execution with an order in flight, change the venue while it is down, restart:
reconciliation finds and reports everything, and trading resumes only after it."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import httpx
from robson_kit.bus import Bus
from robson_kit.testing import ADMIN_HEADERS, ServiceProcess, wait_until

from .conftest import CONFIRM, execution_env
from .fakes import FakeBinance
from .helpers import account_events, of, order_events, submit


def _proc(env: dict[str, str], log: Path, faults: str = "") -> ServiceProcess:
    return ServiceProcess("robson_execution", {**env, "ROBSON_FAULTS": faults},
                          "ROBSON_EXECUTION_HTTP_PORT", log)


async def _count(bus: Bus, name: str, order_id: str | None = None) -> int:
    evts = await (account_events(bus) if name == "ReconciliationCompleted" else order_events(bus))
    return len(of(evts, name, order_id))


async def test_kill_with_order_in_flight_then_venue_changes_are_reconciled_before_trading(
    bus: Bus, nats_url: str, database_url: str, schema: str, fake: FakeBinance, tmp_path: Path
) -> None:
    env = execution_env(nats_url, database_url, schema, fake)
    proc = _proc(env, tmp_path / "exec1.log")
    await asyncio.to_thread(proc.start)
    try:
        async with httpx.AsyncClient(headers=ADMIN_HEADERS, base_url=proc.url) as api:
            await api.put("/accounts/acc1/keys", json={"api_key": "test-key", "api_secret": "test-secret"})
            r = await api.put("/accounts/acc1", json={"mode": "LIVE", "testnet": True, "confirmation": CONFIRM})
            assert r.status_code == 200, r.text
        await wait_until(lambda: _count(bus, "ReconciliationCompleted"), message="first reconciliation")
        await bus.publish(submit("fillme", type_="LIMIT", qty="0.01", price="50000"))
        await bus.publish(submit("cancelme", type_="LIMIT", qty="0.01", price="40000"))
        await wait_until(lambda: _count(bus, "OrderAccepted", "cancelme"), message="both resting")
    finally:
        await asyncio.to_thread(proc.stop)

    # Second life: dies (SIGKILL) right after Binance accepted the next order.
    proc = _proc(env, tmp_path / "exec2.log", faults="execution.after_place")
    await asyncio.to_thread(proc.start)
    await wait_until(lambda: _n(bus, 2),
                     message="second start-up reconciliation")
    await bus.publish(submit("inflight", type_="LIMIT", qty="0.01", price="45000"))
    await wait_until(lambda: _exited(proc), message="process killed itself after placing")
    inflight_cid = fake.order_posts()[-1]["newClientOrderId"]
    assert await _count(bus, "OrderAccepted", "inflight") == 0

    # While it is down: one order fills, another is canceled by hand.
    fill_cid = next(p["newClientOrderId"] for p in fake.order_posts() if p["price"] == "50000")
    cancel_cid = next(p["newClientOrderId"] for p in fake.order_posts() if p["price"] == "40000")
    fake.engine.fill(fake.engine.by_client_id(fill_cid)[0])
    fake.engine.cancel(fake.engine.by_client_id(cancel_cid)[0])
    await bus.publish(submit("after", type_="LIMIT", qty="0.01", price="30000"))

    requests_before = len(fake.requests)
    proc = _proc(env, tmp_path / "exec3.log")
    await asyncio.to_thread(proc.start)
    try:
        await wait_until(lambda: _count(bus, "OrderAccepted", "after"), message="trading resumed")
        reports = of(await account_events(bus), "ReconciliationCompleted")
        found = {(i.kind, i.order_id, i.action) for i in reports[-1].items}
        assert ("MISSED_FILL", "fillme", "APPLIED") in found
        assert ("CANCELED_ON_VENUE", "cancelme", "APPLIED") in found
        assert ("ORDER_FOUND_ON_VENUE", "inflight", "ADOPTED") in found

        later = fake.requests[requests_before:]
        recon_at = next(i for i, (m, path, _) in enumerate(later) if m == "GET" and path == "openOrders")
        place_at = next(i for i, (m, path, _) in enumerate(later) if m == "POST" and path == "order")
        assert recon_at < place_at  # no new order before the reconciliation

        evts = await order_events(bus)
        assert len(of(evts, "OrderFilled", "fillme")) == 1
        assert len(of(evts, "OrderCanceled", "cancelme")) == 1
        assert len(of(evts, "OrderAccepted", "inflight")) == 1
        assert len(fake.orders_with_client_id(inflight_cid)) == 1
        assert of(evts, "OrderFilled", "fillme")[0].cumulative_quantity == Decimal("0.01")
        async with httpx.AsyncClient(headers=ADMIN_HEADERS, base_url=proc.url) as api:
            shown = (await api.get("/accounts/acc1/reconciliations")).json()
        assert {i["kind"] for i in shown[0]["items"]} >= {"MISSED_FILL", "CANCELED_ON_VENUE"}
    finally:
        await asyncio.to_thread(proc.stop)


async def _n(bus: Bus, n: int) -> bool:
    return await _count(bus, "ReconciliationCompleted") >= n


async def _exited(proc: ServiceProcess) -> bool:
    return proc.proc is not None and proc.proc.poll() is not None
