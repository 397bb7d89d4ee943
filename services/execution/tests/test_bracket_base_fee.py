"""Bracket children after commission: Binance charges a BUY's commission in the asset it
receives (the base asset) unless it is paid with BNB, so a filled entry of 0.012 BTC leaves
0.011988 BTC. The children (SELL) must be sized to what is held, rounded down to the lot step,
or Binance refuses them (-2010 insufficient balance) and the position is left without a stop."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from robson_contracts import BracketTakeProfit, SubmitBracketOrder, TradingMode
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .conftest import enable_live
from .fakes import FakeBinance
from .helpers import T0, account_events, of, order_events, submit

D = Decimal
SETTLED = ("OrderAccepted", "OrderReplaced", "OrderRejected")


async def _live(bus: Bus, api: httpx.AsyncClient) -> None:
    await enable_live(api)

    async def ready() -> bool:
        return bool(of(await account_events(bus), "ReconciliationCompleted"))

    await wait_until(ready, message="reconciliation")


def _bracket(qty: str, side: str = "BUY", fraction: str = "1", stop: str = "55000",
             take: str = "66000") -> SubmitBracketOrder:
    return SubmitBracketOrder(
        occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE, position_id="pos1", list_id="br1",
        entry=submit("e1", qty=qty, side=side).order, stop_price=D(stop), stop_order_id="sl1",
        take_profits=(BracketTakeProfit(order_id="tp1", stop_order_id="sl-tp1", price=D(take),
                                        fraction=D(fraction)),))


async def _settled(bus: Bus, *order_ids: str, n: int = 1) -> list[Any]:
    """The order events once each of ``order_ids`` was accepted, resized or rejected ``n`` times."""
    evts = await order_events(bus)
    done = all(len([e for e in evts if e.order_id == o and e.message_type in SETTLED]) >= n for o in order_ids)
    return evts if done else []


def _exits(fake: FakeBinance, side: str = "SELL") -> list[tuple[str, Decimal]]:
    return sorted((o.type, o.quantity) for o in fake.engine.open_orders() if o.side == side)


def _sell_posts(fake: FakeBinance) -> list[dict[str, str]]:
    return [p for p in fake.order_posts() if p["side"] == "SELL"]


async def test_bracket_children_after_a_base_asset_fee_are_sized_to_what_is_held(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    fake.engine.balances["BTC"] = D(0)  # the account holds only what the entry buys
    fake.engine.commission_asset = "RECEIVED"  # Binance's default: a BUY pays in the base asset
    await _live(bus, api)
    await bus.publish(_bracket("0.012", fraction="0.5"))

    evts = await wait_until(lambda: _settled(bus, "tp1", "sl1"), message="children placed or refused")
    (fill,) = of(evts, "OrderFilled", "e1")
    assert (fill.fill.fee, fill.fill.fee_asset) == (D("0.000012"), "BTC")
    assert fake.engine.balances["BTC"] == D("0.011988")
    assert [(e.order_id, e.reason_code) for e in of(evts, "OrderRejected")] == []
    # 0.011988 held → 0.01198 (LOT_SIZE step 0.00001): half in the OCO, the rest under the lone stop
    assert _exits(fake) == [("LIMIT_MAKER", D("0.00599")), ("STOP_LOSS", D("0.00599")), ("STOP_LOSS", D("0.00599"))]
    assert {e.order_id: e.order.quantity for e in of(evts, "OrderAccepted") if e.order_id != "e1"} == {
        "sl-tp1": D("0.00599"), "tp1": D("0.00599"), "sl1": D("0.00599")}
    assert -2010 not in fake.error_codes("POST")


async def test_bracket_children_count_only_the_base_asset_part_of_mixed_commissions(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    """Fees paid with BNB leave the base whole; once the BNB runs out Binance takes the base."""
    fake.engine.balances.update(BTC=D(0), BNB=D("0.0005"))  # covers the first trade's fee only
    fake.engine.prices["BNBUSDT"] = D("600")
    fake.engine.commission_asset = "BNB"
    await _live(bus, api)
    fake.engine.partial_fill_fraction = D("0.4")
    await bus.publish(_bracket("0.01"))

    await wait_until(lambda: _settled(bus, "tp1", "sl-tp1"), message="protection of the partial fill")
    assert _exits(fake) == [("LIMIT_MAKER", D("0.004")), ("STOP_LOSS", D("0.004"))]  # the BNB fee took no BTC
    entry = fake.engine.by_client_id(fake.order_posts()[0]["newClientOrderId"])[0]
    fake.engine.fill(entry)  # the remaining 0.006, its fee (0.000006 BTC) in the base asset

    evts = await wait_until(lambda: _settled(bus, "tp1", "sl-tp1", n=2), message="OCO resized or refused")
    assert [(f.fill.quantity, f.fill.fee, f.fill.fee_asset) for f in of(evts, "OrderPartiallyFilled", "e1")
            + of(evts, "OrderFilled", "e1")] == [(D("0.004"), D("0.0004"), "BNB"), (D("0.006"), D("0.000006"), "BTC")]
    assert [(e.order_id, e.reason_code) for e in of(evts, "OrderRejected")] == []
    assert [e.order.quantity for e in of(evts, "OrderReplaced", "sl-tp1")] == [D("0.00999")]  # 0.009994 held
    assert _exits(fake) == [("LIMIT_MAKER", D("0.00999")), ("STOP_LOSS", D("0.00999"))]
    assert -2010 not in fake.error_codes("POST")


@pytest.mark.parametrize(("qty", "lot", "expected"), [
    # 0.001 bought, 0.000001 paid in BTC: 0.000999 held is not one lot of 0.001
    ("0.001", {"stepSize": "0.001", "minQty": "0.001"}, [("sl1", "QUANTITY_BELOW_MIN")]),
    # 0.0001 bought (6 USDT), 0.00009 left after the fee and the step: 4.95 USDT at the stop < 5
    ("0.0001", {}, [("sl-tp1", "NOTIONAL_BELOW_MIN"), ("tp1", "SIBLING_REJECTED")]),
], ids=["below_one_lot", "below_min_notional"])
async def test_bracket_entry_whose_fee_leaves_too_little_to_sell_is_rejected_with_a_reason_not_dropped(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance,
    qty: str, lot: dict[str, str], expected: list[tuple[str, str]],
) -> None:
    """What cannot be protected is said (``OrderRejected`` with the rule it breaks, which
    ``position`` reports as ``ORDER_REJECTED_<code>``), before any order reaches Binance."""
    fake.engine.balances["BTC"] = D(0)
    fake.engine.commission_asset = "RECEIVED"
    if lot:
        fake.set_filter("BTCUSDT", "LOT_SIZE", **lot)
    await _live(bus, api)
    await bus.publish(_bracket(qty))

    async def refused() -> list[Any]:
        evts = await order_events(bus)
        return evts if of(evts, "OrderFilled", "e1") and len(of(evts, "OrderRejected")) >= len(expected) else []

    evts = await wait_until(refused, message="the children refused")
    assert [(e.order_id, e.reason_code) for e in of(evts, "OrderRejected")] == expected
    assert _sell_posts(fake) == []  # refused by the rules, not by Binance


async def test_a_sell_entry_paying_its_fee_in_the_quote_asset_is_protected_for_all_it_sold(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    """The short side: a SELL's commission is taken from the quote it receives, so the BUY
    children buy back the whole filled quantity (``position`` keeps no fee quantity either)."""
    fake.engine.commission_asset = "RECEIVED"
    await _live(bus, api)
    await bus.publish(_bracket("0.012", side="SELL", stop="65000", take="55000"))

    evts = await wait_until(lambda: _settled(bus, "tp1", "sl-tp1"), message="children placed or refused")
    (fill,) = of(evts, "OrderFilled", "e1")
    assert fill.fill.fee_asset == "USDT"
    assert [(e.order_id, e.reason_code) for e in of(evts, "OrderRejected")] == []
    assert _exits(fake, "BUY") == [("LIMIT_MAKER", D("0.012")), ("STOP_LOSS", D("0.012"))]
