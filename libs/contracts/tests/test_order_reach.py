"""``may_act_within``: can a resting order act anywhere in a price range (hand cases)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from robson_contracts import OrderSpec
from robson_contracts.pricepath import may_act_within

D = Decimal


def order(kind: str, side: str, price: str | None = None, stop: str | None = None,
          tif: str = "GTC") -> OrderSpec:
    return OrderSpec(order_id="o1", symbol="BTCUSDT", side=side, type=kind, quantity="1",
                     price=price, stop_price=stop, time_in_force=tif)


@pytest.mark.parametrize(("spec", "low", "high", "acts"), [
    (order("STOP_MARKET", "SELL", stop="99"), "99.5", "103", False),   # a long's stop, not reached
    (order("STOP_MARKET", "SELL", stop="99"), "99", "103", True),      # touched
    (order("STOP_MARKET", "BUY", stop="104"), "99", "103.9", False),   # a short's stop
    (order("STOP_MARKET", "BUY", stop="104"), "99", "104", True),
    (order("LIMIT", "SELL", price="105"), "100", "104.99", False),     # a long's take-profit
    (order("LIMIT", "SELL", price="105"), "100", "105", True),
    (order("LIMIT", "SELL", price="95"), "100", "103", True),          # marketable: acts
    (order("LIMIT", "BUY", price="95"), "95.01", "103", False),
    (order("TAKE_PROFIT", "SELL", stop="105"), "100", "104", False),
    (order("TAKE_PROFIT", "BUY", stop="95"), "95", "104", True),
    (order("STOP_LIMIT", "BUY", price="105", stop="104"), "100", "103", True),  # may rest triggered
    (order("STOP_LIMIT", "SELL", price="95", stop="96"), "97", "103", True),  # triggered, gapped
    (order("MARKET", "BUY"), "100", "100", True),                     # waits for the next price
    (order("LIMIT", "BUY", price="95", tif="IOC"), "100", "103", True),
])
def test_may_act_within_hand_cases(spec: OrderSpec, low: str, high: str, acts: bool) -> None:
    assert may_act_within(spec, D(low), D(high)) is acts
