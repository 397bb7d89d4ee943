"""paper on real NATS + Postgres: brackets, fills, balances, bad input, redelivery."""

from __future__ import annotations

import json

import httpx
from robson_contracts import BalanceSnapshot, DeadLetter, encode
from robson_contracts import subjects as s
from robson_kit.bus import Bus, headers_for
from robson_kit.testing import ADMIN_HEADERS, read_stream, wait_until
from robson_paper.deps import PaperService

from .bus_helpers import D, at, bracket, events_of, order, tick, waiter


async def test_bracket_entry_then_take_profit_fill_emits_fills_and_final_balances(
    bus: Bus, paper: PaperService
) -> None:
    await bus.publish(tick("100", 1))
    await wait_until(lambda: _price_seen(paper, "BTCUSDT"), message="first price")
    await bus.publish(bracket(2))
    await wait_until(waiter(bus, "OrderAccepted", "e1"), message="entry accepted")
    await bus.publish(tick("100", 3))
    await wait_until(waiter(bus, "OrderFilled", "e1"), message="entry filled")
    await wait_until(waiter(bus, "OrderAccepted", "e1-tps"), message="children released")
    await bus.publish(tick("111", 4))
    (tp_fill,) = await wait_until(waiter(bus, "OrderFilled", "e1-tp"), message="take-profit")
    assert tp_fill.fill.price == D(110) and tp_fill.fill.quantity == D("0.1")
    assert tp_fill.position_id == "pos1" and tp_fill.list_id == "B1"
    assert tp_fill.fill.fee == D("0.011") and tp_fill.fill.fee_asset == "USDT"
    canceled = await wait_until(waiter(bus, "OrderCanceled", "e1-tps"), message="sibling canceled")
    assert canceled[0].reason == "OCO_SIBLING_FILLED"
    expected_usdt = D(10000) - D(10) - D("0.01") + D(11) - D("0.011")
    snapshot = await wait_until(lambda: _snapshot_with(bus, expected_usdt), message="balances")
    assert {b.asset: b.free for b in snapshot.balances}["BTC"] == 0
    async with _client(paper) as client:
        fills = (await client.get("/fills", params={"account_id": "acc1"})).json()
        assert [(f["order_id"], D(f["price"])) for f in fills] == [("e1", D(100)), ("e1-tp", D(110))]
        account = (await client.get("/accounts/acc1")).json()
        usdt = next(b for b in account["balances"] if b["asset"] == "USDT")
        assert D(usdt["free"]) == expected_usdt and D(usdt["locked"]) == 0
        filled = (await client.get("/orders", params={"status": "FILLED"})).json()
        assert sorted(o["order_id"] for o in filled) == ["e1", "e1-tp"]


async def test_malformed_and_invalid_commands_are_rejected_or_dead_lettered_and_consumer_goes_on(
    bus: Bus, paper: PaperService
) -> None:
    await bus.publish(tick("100", 1))
    await wait_until(lambda: _price_seen(paper, "BTCUSDT"), message="first price")
    subject = s.order_command("PAPER", "acc1", "BTCUSDT")
    await bus.publish_raw(subject, b"{nope", {"Nats-Msg-Id": "bad-1"})
    good = json.loads(encode(order("x1", "BUY", "LIMIT", "1", 2, price="90")))
    await bus.publish_raw(subject, json.dumps({**good, "order": {**good["order"], "price": 90.5}})
                          .encode(), {"Nats-Msg-Id": "bad-2"})
    live = order("x2", "BUY", "LIMIT", "1", 2, price="90").model_copy(update={"venue": "LIVE"})
    await bus.publish_raw(subject, encode(live), headers_for(live))
    await bus.publish(order("x3", "BUY", "LIMIT", "1", 2, price="90").model_copy(
        update={"order": order("x3", "BUY", "LIMIT", "1", 2, price="90").order.model_copy(
            update={"symbol": "NOPEUSDT"})}))
    await bus.publish(order("x4", "BUY", "LIMIT", "1000", 3, price="90"))
    await bus.publish(order("x5", "BUY", "LIMIT", "0.01", 4, price="90"))
    await bus.publish(order("x6", "BUY", "LIMIT", "0.1", 5, price="90"))
    await wait_until(waiter(bus, "OrderAccepted", "x6"), message="good order after bad ones")
    rejected = await events_of(bus, "OrderRejected")
    assert {(r.order_id, r.reason_code) for r in rejected} == {
        ("x3", "UNKNOWN_SYMBOL"), ("x4", "INSUFFICIENT_BALANCE"), ("x5", "MIN_NOTIONAL")}
    assert all(r.message for r in rejected)
    letters: list[DeadLetter] = await wait_until(lambda: _letters(bus, 3), message="dead letters")
    assert [x.reason_code for x in letters] == ["BAD_JSON", "INVALID_MESSAGE", "WRONG_VENUE"]


async def test_command_redelivered_under_new_nats_id_is_applied_once(bus: Bus, paper: PaperService) -> None:
    await bus.publish(tick("100", 1))
    await wait_until(lambda: _price_seen(paper, "BTCUSDT"), message="first price")
    cmd = order("r1", "BUY", "LIMIT", "1", 2, price="90")
    await bus.publish(cmd)
    await bus.publish_raw(s.subject_for(cmd), encode(cmd), {**headers_for(cmd), "Nats-Msg-Id": "x"})
    await bus.publish(order("r2", "BUY", "LIMIT", "1", 3, price="91"))
    await wait_until(waiter(bus, "OrderAccepted", "r2"), message="later order processed")
    assert len(await events_of(bus, "OrderAccepted", "r1")) == 1
    assert await events_of(bus, "OrderRejected") == []


async def test_put_account_sets_balances_and_reset_cancels_orders_and_restores_them(
    bus: Bus, paper: PaperService
) -> None:
    async with _client(paper) as client:
        body = {"balances": {"USDT": "500", "BTC": "1"}, "allow_short": True}
        put = await client.put("/accounts/acc2", json=body)
        assert put.status_code == 200, put.text
        assert put.json()["allow_short"] is True
        assert {b["asset"]: b["free"] for b in put.json()["balances"]} == {"BTC": "1", "USDT": "500"}
        assert (await client.put("/accounts/acc2", json={"balances": {"USDT": 5.5}})).status_code == 422
        await bus.publish(tick("100", 1))
        await wait_until(lambda: _price_seen(paper, "BTCUSDT"), message="first price")
        await bus.publish(order("q1", "BUY", "LIMIT", "1", 2, price="90", account="acc2"))
        await wait_until(waiter(bus, "OrderAccepted", "q1"), message="order accepted")
        opened = (await client.get("/orders", params={"account_id": "acc2", "status": "OPEN"})).json()
        assert [o["order_id"] for o in opened] == ["q1"]
        reset = await client.post("/accounts/acc2/reset")
        assert reset.status_code == 200
        usdt = next(b for b in reset.json()["balances"] if b["asset"] == "USDT")
        assert (usdt["free"], usdt["locked"]) == ("500", "0")
        await wait_until(waiter(bus, "OrderCanceled", "q1"), message="reset cancels")
        assert (await client.get("/accounts/nobody")).status_code == 404
        assert (await client.get("/orders", params={"status": "BOGUS"})).status_code == 422


async def _price_seen(service: PaperService, symbol: str) -> bool:
    ex = service.deps.exchange
    return ex is not None and ex.market(symbol).last_price is not None


async def _snapshot_with(bus: Bus, usdt):
    snaps = [m for m in await read_stream(bus, s.ALL_BALANCES) if isinstance(m, BalanceSnapshot)]
    for snap in reversed(snaps):
        if {b.asset: b.free for b in snap.balances}.get("USDT") == usdt:
            return snap
    return None


async def _letters(bus: Bus, n: int):
    letters = await read_stream(bus, s.ALL_DEAD_LETTERS)
    return letters if len(letters) >= n else None


def _client(service: PaperService) -> httpx.AsyncClient:
    app = service.app(manage_lifecycle=False)
    return httpx.AsyncClient(headers=ADMIN_HEADERS, transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_oco_submitted_then_list_canceled_releases_the_shared_hold(
    bus: Bus, paper: PaperService
) -> None:
    from robson_contracts import CancelOrder, SubmitOcoOrder

    async with _client(paper) as client:
        await client.put("/accounts/acc3", json={"balances": {"USDT": "100", "BTC": "1"}})
        await bus.publish(tick("100", 1))
        await wait_until(lambda: _price_seen(paper, "BTCUSDT"), message="first price")
        await bus.publish(SubmitOcoOrder(
            occurred_at=at(2), account_id="acc3", venue="PAPER", list_id="L1", symbol="BTCUSDT",
            side="SELL", quantity=D("0.5"), stop_order_id="s1", stop_price=D(95),
            take_profit_order_id="t1", take_profit_price=D(110)))
        await wait_until(waiter(bus, "OrderAccepted", "s1"), message="oco accepted")
        btc = next(b for b in (await client.get("/accounts/acc3/balances")).json()
                   if b["asset"] == "BTC")
        assert (D(btc["free"]), D(btc["locked"])) == (D("0.5"), D("0.5"))
        await bus.publish(CancelOrder(occurred_at=at(3), account_id="acc3", venue="PAPER",
                                      symbol="BTCUSDT", list_id="L1"))
        await wait_until(waiter(bus, "OrderCanceled", n=2), message="both legs canceled")
        btc = next(b for b in (await client.get("/accounts/acc3/balances")).json()
                   if b["asset"] == "BTC")
        assert (D(btc["free"]), D(btc["locked"])) == (D(1), D(0))
