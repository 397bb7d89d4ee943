"""OCO, bracket and cancel through the service; account API: opt-in, keys, rotation."""

from __future__ import annotations

from decimal import Decimal

import httpx
from robson_contracts import (
    BracketTakeProfit,
    CancelOrder,
    SubmitBracketOrder,
    SubmitOcoOrder,
    TradingMode,
)
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .conftest import CONFIRM, enable_live
from .fakes import FakeBinance
from .helpers import T0, account_events, of, order_events, submit

D = Decimal


async def _has(bus: Bus, name: str, order_id: str | None = None) -> bool:
    return bool(of(await order_events(bus), name, order_id))


async def _ready(bus: Bus) -> None:
    async def done() -> bool:
        return bool(of(await account_events(bus), "ReconciliationCompleted"))
    await wait_until(done, message="reconciliation")


async def test_bracket_entry_fill_releases_oco_and_tp_fill_cancels_stop(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)
    await _ready(bus)
    entry = submit("entry1", qty="0.01").order
    await bus.publish(SubmitBracketOrder(
        occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE, position_id="pos1", list_id="br1",
        entry=entry, stop_price=D("55000"), stop_order_id="sl1",
        take_profits=(BracketTakeProfit(order_id="tp1", stop_order_id="sl1", price=D("65000"), fraction=D(1)),)))
    await wait_until(lambda: _has(bus, "OrderAccepted", "tp1"), message="OCO children placed")
    evts = await order_events(bus)
    stop = of(evts, "OrderAccepted", "sl1")[0]
    assert stop.parent_order_id == "entry1" and stop.position_id == "pos1" and stop.list_id == "br1"
    assert stop.order.quantity == D("0.01")
    oco_posts = [p for m, path, p in fake.requests if m == "POST" and path == "orderList/oco"]
    assert len(oco_posts) == 1 and oco_posts[0]["belowType"] == "STOP_LOSS"
    fake.engine.set_price("BTCUSDT", D("65000"))
    await wait_until(lambda: _has(bus, "OrderFilled", "tp1"), message="take-profit fill")
    await wait_until(lambda: _has(bus, "OrderCanceled", "sl1"), message="stop canceled by OCO")
    evts = await order_events(bus)
    assert of(evts, "OrderCanceled", "sl1")[0].reason == "OCO_SIBLING_FILLED"
    assert len(of(evts, "OrderFilled", "tp1")) == 1 and len(of(evts, "OrderFilled", "entry1")) == 1


async def test_oco_cancel_by_list_id_cancels_both_legs_on_the_venue(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)
    await _ready(bus)
    await bus.publish(SubmitOcoOrder(
        occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE, list_id="l1", symbol="BTCUSDT",
        side="SELL", quantity=D("0.01"), stop_order_id="s1", stop_price=D("50000"),
        stop_limit_price=D("49900"), take_profit_order_id="t1", take_profit_price=D("70000")))
    await wait_until(lambda: _has(bus, "OrderAccepted", "t1"), message="OCO accepted")
    await bus.publish(CancelOrder(occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE,
                                  symbol="BTCUSDT", list_id="l1"))
    await wait_until(lambda: _has(bus, "OrderCanceled", "t1"), message="leg canceled")
    await wait_until(lambda: _has(bus, "OrderCanceled", "s1"), message="leg canceled")
    assert fake.engine.open_orders() == []
    assert [m for m, path, _ in fake.requests if path == "orderList"] == ["DELETE"]


async def test_cancel_single_order_publishes_one_cancel(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)
    await _ready(bus)
    await bus.publish(submit("lim1", type_="LIMIT", qty="0.01", price="40000"))
    await wait_until(lambda: _has(bus, "OrderAccepted", "lim1"), message="accepted")
    cancel = CancelOrder(occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE, symbol="BTCUSDT",
                         order_id="lim1")
    await bus.publish(cancel)
    await wait_until(lambda: _has(bus, "OrderCanceled", "lim1"), message="canceled")
    assert len(of(await order_events(bus), "OrderCanceled", "lim1")) == 1
    assert fake.engine.open_orders() == []


async def test_live_mode_needs_exact_confirmation_and_keys(
    bus: Bus, execution: Service, api: httpx.AsyncClient
) -> None:
    r = await api.put("/accounts/a2", json={"mode": "LIVE", "testnet": True, "confirmation": CONFIRM})
    assert r.status_code == 409 and r.json()["detail"]["reason_code"] == "NO_API_KEYS"
    await api.put("/accounts/a2/keys", json={"api_key": "test-key", "api_secret": "test-secret"})
    r = await api.put("/accounts/a2", json={"mode": "LIVE", "testnet": True, "confirmation": "yes"})
    assert r.status_code == 422 and r.json()["detail"]["reason_code"] == "CONFIRMATION_REQUIRED"
    assert (await api.get("/accounts/a2")).json()["mode"] == "PAPER"
    body = {"mode": "LIVE", "testnet": True, "confirmation": CONFIRM}
    assert (await api.put("/accounts/a2", json=body)).status_code == 200
    assert (await api.put("/accounts/a2", json=body)).status_code == 200  # idempotent
    changes = of(await account_events(bus), "AccountModeChanged")
    assert [(c.account_id, c.mode, c.testnet) for c in changes] == [("a2", TradingMode.LIVE, True)]


async def test_api_never_returns_keys_only_a_fingerprint(execution: Service, api: httpx.AsyncClient) -> None:
    r = await api.put("/accounts/a3/keys", json={"api_key": "public-key-abc", "api_secret": "secret-xyz-123"})
    texts = [r.text, (await api.get("/accounts/a3")).text, (await api.get("/accounts")).text]
    assert all("public-key-abc" not in t and "secret-xyz-123" not in t for t in texts)
    assert r.json()["key_fingerprint"].startswith("sha256:") and r.json()["has_keys"] is True
    async with execution.uow() as uow:
        from robson_execution.adapters import repo
        stored = (await repo.get_account(uow.session, "a3")).credentials
    assert "secret-xyz" not in stored and stored.startswith("k1:")
    assert (await api.post("/keys/rotate")).json() == {"rotated": 0}


async def test_replace_oco_stop_cancels_old_list_and_places_new_one_once(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    from robson_contracts import ReplaceOrder

    await enable_live(api)
    await _ready(bus)
    await bus.publish(SubmitOcoOrder(
        occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE, list_id="l2", symbol="BTCUSDT",
        side="SELL", quantity=D("0.01"), stop_order_id="s2", stop_price=D("50000"),
        take_profit_order_id="t2", take_profit_price=D("70000")))
    await wait_until(lambda: _has(bus, "OrderAccepted", "t2"), message="OCO accepted")
    await bus.publish(ReplaceOrder(occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE,
                                   symbol="BTCUSDT", order_id="s2", new_order_id="s2b", stop_price=D("58000")))
    await wait_until(lambda: _has(bus, "OrderReplaced", "s2"), message="replaced")
    evts = await order_events(bus)
    replaced = of(evts, "OrderReplaced", "s2")[0]
    assert replaced.order.order_id == "s2b" and replaced.order.stop_price == D("58000")
    assert of(evts, "OrderCanceled") == []  # the replaced list is not reported as canceled
    open_now = fake.engine.open_orders()
    assert sorted(o.stop_price or o.price for o in open_now) == [D("58000"), D("70000")]
    fake.engine.set_price("BTCUSDT", D("57000"))
    await wait_until(lambda: _has(bus, "OrderFilled", "s2b"), message="new stop fills")
    await wait_until(lambda: _has(bus, "OrderCanceled", "t2"), message="sibling canceled")
    assert len(of(await order_events(bus), "OrderFilled", "s2b")) == 1
