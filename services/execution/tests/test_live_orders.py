"""Orders through the real service against the fake exchange: placement, fills, faults."""

from __future__ import annotations

from decimal import Decimal

import httpx
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .conftest import enable_live
from .fakes import FakeBinance, Fault
from .helpers import account_events, of, order_events, submit


async def _ready(bus: Bus) -> None:
    await wait_until(lambda: _has(bus, "ReconciliationCompleted"), timeout=15, message="reconciliation")


async def _has(bus: Bus, name: str, order_id: str | None = None, n: int = 1) -> bool:
    evts = await (account_events(bus) if name in ("ReconciliationCompleted", "AccountModeChanged") else order_events(bus))
    return len(of(evts, name, order_id)) >= n


async def partly_filled_limit(bus: Bus, api: httpx.AsyncClient, fake: FakeBinance,
                              order_id: str) -> None:
    """A live account whose LIMIT BUY of 0.01 at 60000 has filled 40% (published)."""
    await enable_live(api)
    await _ready(bus)
    fake.engine.partial_fill_fraction = Decimal("0.4")
    await bus.publish(submit(order_id, type_="LIMIT", qty="0.01", price="60000"))
    await wait_until(lambda: _has(bus, "OrderPartiallyFilled", order_id), message="partial fill")


async def test_market_order_is_placed_once_and_its_fill_published_once(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)
    await _ready(bus)
    cmd = submit("m1")
    await bus.publish(cmd)
    await wait_until(lambda: _has(bus, "OrderFilled", "m1"), message="fill")
    evts = await order_events(bus)
    assert [e.message_type for e in evts if e.order_id == "m1"] == ["OrderAccepted", "OrderFilled"]
    assert len(fake.order_posts()) == 1
    fill = of(evts, "OrderFilled")[0]
    assert fill.cumulative_quantity == Decimal("0.01") and fill.fill.fee > 0
    assert len(of(await account_events(bus), "AccountModeChanged")) == 1


async def test_timeout_after_accept_is_queried_and_never_resent(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    fake.refuse_streams = True  # no executionReport may reveal the order: only a query can
    await enable_live(api)
    await _ready(bus)
    fake.inject(Fault("POST", "order", "timeout_after_accept", hold_seconds=2))
    await bus.publish(submit("t1"))
    await wait_until(lambda: _has(bus, "OrderFilled", "t1"), message="fill after timeout")
    posts = fake.order_posts()
    assert len(posts) == 1
    assert len(fake.orders_with_client_id(posts[0]["newClientOrderId"])) == 1
    assert len(of(await order_events(bus), "OrderFilled", "t1")) == 1
    queries = [p for m, path, p in fake.requests if m == "GET" and path == "order"]
    assert queries and queries[0]["origClientOrderId"] == posts[0]["newClientOrderId"]


async def _one_order_one_fill(bus: Bus, fake: FakeBinance, order_id: str) -> None:
    await wait_until(lambda: _has(bus, "OrderFilled", order_id), message=f"fill of {order_id}")
    cids = {p["newClientOrderId"] for p in fake.order_posts()}
    assert len(cids) == 1
    assert len(fake.orders_with_client_id(cids.pop())) == 1
    evts = await order_events(bus)
    assert len(of(evts, "OrderAccepted", order_id)) == 1
    assert len(of(evts, "OrderFilled", order_id)) == 1


async def test_rate_limited_429_waits_then_places_exactly_once(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)
    await _ready(bus)
    fake.inject(Fault("POST", "order", "429", retry_after=1))
    await bus.publish(submit("r1"))
    await _one_order_one_fill(bus, fake, "r1")
    assert len(fake.order_posts()) == 2


async def test_ip_ban_418_waits_then_places_exactly_once(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)
    await _ready(bus)
    fake.inject(Fault("POST", "order", "418", retry_after=1))
    await bus.publish(submit("b1"))
    await _one_order_one_fill(bus, fake, "b1")


async def test_server_error_is_queried_confirmed_absent_then_retried_once(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    fake.refuse_streams = True
    await enable_live(api)
    await _ready(bus)
    fake.inject(Fault("POST", "order", "503", times=2))
    await bus.publish(submit("e1"))
    await _one_order_one_fill(bus, fake, "e1")
    methods = [(m, path) for m, path, _ in fake.requests if path == "order"]
    assert methods == [("POST", "order"), ("GET", "order"), ("POST", "order"), ("GET", "order"), ("POST", "order")]


async def test_connection_reset_after_accept_is_adopted_not_resent(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    fake.refuse_streams = True
    await enable_live(api)
    await _ready(bus)
    fake.inject(Fault("POST", "order", "reset_after_accept"))
    await bus.publish(submit("c1"))
    await _one_order_one_fill(bus, fake, "c1")
    assert len(fake.order_posts()) == 1


async def test_partial_fill_then_rest_publishes_each_fill_once(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await partly_filled_limit(bus, api, fake, "p1")
    order = fake.engine.by_client_id(fake.order_posts()[0]["newClientOrderId"])[0]
    fake.engine.fill(order)
    await wait_until(lambda: _has(bus, "OrderFilled", "p1"), message="final fill")
    evts = await order_events(bus)
    partial, final = of(evts, "OrderPartiallyFilled", "p1"), of(evts, "OrderFilled", "p1")
    assert len(partial) == 1 and len(final) == 1
    assert partial[0].cumulative_quantity == Decimal("0.004")
    assert final[0].cumulative_quantity == Decimal("0.01") and final[0].remaining_quantity == 0


async def test_fill_while_user_stream_is_down_is_found_by_polling_once(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)
    await _ready(bus)
    await wait_until(lambda: _stream_up(fake), message="user stream up")
    await bus.publish(submit("d1", type_="LIMIT", qty="0.01", price="50000"))
    await wait_until(lambda: _has(bus, "OrderAccepted", "d1"), message="accepted")
    fake.refuse_streams = True
    await fake.drop_streams()
    order = fake.engine.by_client_id(fake.order_posts()[0]["newClientOrderId"])[0]
    fake.engine.set_price("BTCUSDT", Decimal("49999"))
    assert order.status == "FILLED"
    await wait_until(lambda: _has(bus, "OrderFilled", "d1"), message="fill found by polling")
    fake.refuse_streams = False
    await wait_until(lambda: _stream_up(fake), message="user stream back")
    fills = await api.get("/accounts/acc1/fills")
    assert [f["source"] for f in fills.json()] == ["poll"]
    assert len(of(await order_events(bus), "OrderFilled", "d1")) == 1


async def _stream_up(fake: FakeBinance) -> bool:
    return fake.stream_count > 0


async def test_order_below_exchange_minimum_is_rejected_without_calling_binance(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)
    await _ready(bus)
    await bus.publish(submit("tiny", qty="0.00001"))
    await wait_until(lambda: _has(bus, "OrderRejected", "tiny"), message="rejection")
    rejection = of(await order_events(bus), "OrderRejected", "tiny")[0]
    assert rejection.reason_code == "NOTIONAL_BELOW_MIN"
    assert fake.order_posts() == []


async def test_order_for_account_without_live_opt_in_is_rejected(
    bus: Bus, execution: Service, fake: FakeBinance
) -> None:
    await bus.publish(submit("x1", account_id="nolive"))
    await wait_until(lambda: _has(bus, "OrderRejected", "x1"), message="rejection")
    assert of(await order_events(bus), "OrderRejected", "x1")[0].reason_code == "LIVE_NOT_ENABLED"
    assert fake.order_posts() == []


async def test_repeated_server_errors_open_the_symbol_breaker_visibly(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    fake.refuse_streams = True
    await enable_live(api)
    await _ready(bus)
    fake.inject(Fault("GET", "order", "503", times=100))
    fake.inject(Fault("POST", "order", "503", times=1))
    await bus.publish(submit("k1"))

    async def opened() -> bool:
        states = (await api.get("/breakers")).json()
        return any(b["symbol"] == "BTCUSDT" and b["state"] in ("OPEN", "HALF_OPEN") for b in states)

    await wait_until(opened, interval=0.05, message="breaker open")
    fake.faults.clear()
    await _one_order_one_fill(bus, fake, "k1")
    states = (await api.get("/breakers")).json()
    assert [b["state"] for b in states if b["symbol"] == "BTCUSDT"] == ["CLOSED"]


async def test_redelivered_command_places_one_order(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    from robson_contracts import encode, subject_for
    from robson_kit.bus import headers_for

    await enable_live(api)
    await _ready(bus)
    cmd = submit("dup1")
    await bus.publish(cmd)
    await bus.publish_raw(subject_for(cmd), encode(cmd), {**headers_for(cmd), "Nats-Msg-Id": "again"})
    await _one_order_one_fill(bus, fake, "dup1")
    assert len(fake.order_posts()) == 1


async def test_wrong_api_secret_blocks_trading_because_reconciliation_cannot_complete(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    fake.keys["test-key"] = "another-secret"  # the venue's signature check refuses our requests
    await enable_live(api)
    await bus.publish(submit("sig1"))

    async def tried_twice() -> bool:
        return sum(1 for m, path, _ in fake.requests if path == "account") >= 2

    await wait_until(tried_twice, message="reconciliation attempts")
    assert (await api.post("/accounts/acc1/reconcile")).status_code == 409
    assert (await api.get("/accounts/acc1")).json()["status"] == "RECONCILING"
    assert fake.order_posts() == [] and fake.engine.orders == []
    assert not await _has(bus, "ReconciliationCompleted")
