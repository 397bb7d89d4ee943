"""Server-time sync and exchange-rule refresh, through the service against the fake exchange."""

from __future__ import annotations

from decimal import Decimal

import httpx
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .conftest import enable_live
from .fakes import FakeBinance, Fault
from .helpers import account_events, of, order_events, submit

D = Decimal


async def _ready(bus: Bus) -> None:
    async def done() -> bool:
        return bool(of(await account_events(bus), "ReconciliationCompleted"))
    await wait_until(done, timeout=15, message="reconciliation")


async def _has(bus: Bus, name: str, order_id: str) -> bool:
    return bool(of(await order_events(bus), name, order_id))


def _paths(fake: FakeBinance) -> list[tuple[str, str]]:
    return [(m, path) for m, path, _ in fake.requests]


async def test_exchange_clock_30s_behind_is_synced_so_signed_requests_pass_recv_window(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    fake.clock_skew_ms = -30_000  # unsynced, every timestamp we send is 30 s in the exchange's future
    await enable_live(api)
    await _ready(bus)
    await bus.publish(submit("s1"))
    await wait_until(lambda: _has(bus, "OrderFilled", "s1"), message="fill")
    await wait_until(lambda: _stream_up(fake), message="user stream subscribed with a synced timestamp")
    assert -1021 not in fake.error_codes()
    paths = _paths(fake)
    first_signed = next(i for i, (_, path) in enumerate(paths) if path not in ("time", "exchangeInfo", "ping"))
    assert ("GET", "time") in paths[:first_signed]


async def _stream_up(fake: FakeBinance) -> bool:
    return fake.stream_count > 0


async def test_exchange_clock_jump_gets_1021_then_resyncs_and_places_the_order_once(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)
    await _ready(bus)
    await wait_until(lambda: _stream_up(fake), message="user stream up")  # no polling meanwhile
    fake.clock_skew_ms = 20_000  # the exchange clock jumps: our offset is now 20 s stale
    await bus.publish(submit("j1"))
    await wait_until(lambda: _has(bus, "OrderFilled", "j1"), message="fill after resync")
    assert fake.error_codes() == [-1021]
    order_calls = [(m, path) for m, path in _paths(fake) if path in ("order", "time")]
    assert order_calls[-3:] == [("POST", "order"), ("GET", "time"), ("POST", "order")]
    assert len(fake.engine.orders) == 1
    assert len(of(await order_events(bus), "OrderFilled", "j1")) == 1


async def test_changed_step_size_is_picked_up_after_a_filter_failure_and_the_order_refit(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)
    await _ready(bus)
    await bus.publish(submit("first"))  # caches the rules (step 0.00001)
    await wait_until(lambda: _has(bus, "OrderFilled", "first"), message="first fill")
    fake.set_filter("BTCUSDT", "LOT_SIZE", stepSize="0.001", minQty="0.001")
    await bus.publish(submit("refit", qty="0.0123"))
    await wait_until(lambda: _has(bus, "OrderFilled", "refit"), message="fill of the refit order")
    evts = await order_events(bus)
    assert of(evts, "OrderAccepted", "refit")[0].order.quantity == D("0.012")
    assert of(evts, "OrderFilled", "refit")[0].cumulative_quantity == D("0.012")
    assert fake.error_codes("POST", "order") == [-1013]
    assert [p["quantity"] for p in fake.order_posts()][1:] == ["0.0123", "0.012"]
    assert len(fake.engine.orders) == 2


async def test_order_rejected_twice_by_filters_is_rejected_with_binance_code(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)
    await _ready(bus)
    fake.inject(Fault("POST", "order", "filter_failure", times=2))  # a refresh cannot explain it
    await bus.publish(submit("never", type_="LIMIT", qty="0.01", price="50000"))
    await wait_until(lambda: _has(bus, "OrderRejected", "never"), message="rejection")
    assert of(await order_events(bus), "OrderRejected", "never")[0].reason_code == "BINANCE_1013"
    assert fake.error_codes("POST", "order") == [-1013, -1013]
    assert fake.engine.orders == []


async def test_exchange_rules_are_refreshed_on_schedule_so_a_new_tick_size_is_used_before_sending(
    bus: Bus, quick_rules: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(quick_rules)
    await _ready(bus)
    await bus.publish(submit("warm"))
    await wait_until(lambda: _has(bus, "OrderFilled", "warm"), message="first fill")
    fake.set_filter("BTCUSDT", "PRICE_FILTER", tickSize="0.50")
    seen = sum(1 for p in _paths(fake) if p == ("GET", "exchangeInfo"))

    async def refreshed() -> bool:
        return sum(1 for p in _paths(fake) if p == ("GET", "exchangeInfo")) > seen

    await wait_until(refreshed, message="scheduled exchangeInfo refresh")
    await bus.publish(submit("tick", type_="LIMIT", qty="0.01", price="50000.37"))
    await wait_until(lambda: _has(bus, "OrderAccepted", "tick"), message="accepted")
    assert of(await order_events(bus), "OrderAccepted", "tick")[0].order.price == D("50000.5")
    assert fake.order_posts()[-1]["price"] == "50000.5"
    assert fake.error_codes() == []
