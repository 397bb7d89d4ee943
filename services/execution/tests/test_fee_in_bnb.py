"""A commission paid with BNB is valued in the quote asset by execution (``Fill.fee_quote``):
position cannot price BNB, and a fee counted as zero overstates P&L and loosens the limits."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from robson_execution.domain.rules import SymbolRules
from robson_execution.handlers.venue import VenueTrade
from robson_execution.runtime.fee_prices import PRICE_TTL_SECONDS, RETRY_SECONDS, FeePrices
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .conftest import enable_live
from .fakes import FakeBinance
from .helpers import account_events, of, order_events, submit

D = Decimal


async def test_fill_whose_commission_was_paid_in_bnb_carries_its_value_in_the_quote_asset(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await _bnb_paying_account_buys(bus, api, fake)

    (fill,) = await wait_until(lambda: _of(order_events(bus), "OrderFilled"), message="the fill")
    # 0.01 × 60000 × 0.1% = 0.6 USDT, paid as 0.001 BNB at 600
    assert (fill.fill.fee, fill.fill.fee_asset) == (D("0.001"), "BNB")
    assert fill.fill.fee_quote == D("0.6")


async def test_fill_whose_commission_was_paid_in_the_quote_asset_needs_no_valuation(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)
    await wait_until(lambda: _of(account_events(bus), "ReconciliationCompleted"), message="reconciled")
    await bus.publish(submit("o1", qty="0.01"))
    (fill,) = await wait_until(lambda: _of(order_events(bus), "OrderFilled"), message="the fill")
    assert (fill.fill.fee, fill.fill.fee_asset, fill.fill.fee_quote) == (D("0.6"), "USDT", None)


async def _bnb_paying_account_buys(bus: Bus, api: httpx.AsyncClient, fake: FakeBinance) -> None:
    """An account paying its fees with BNB (10 held, BNB at 600 USDT) buys 0.01 BTC."""
    fake.engine.commission_asset = "BNB"
    fake.engine.balances["BNB"] = D("10")
    fake.engine.prices["BNBUSDT"] = D("600")
    await enable_live(api)
    await wait_until(lambda: _of(account_events(bus), "ReconciliationCompleted"), message="reconciled")
    await bus.publish(submit("o1", qty="0.01"))


async def _of(read: Any, name: str) -> list[Any]:
    return of(await read, name)


@dataclass
class Answer:
    ok: bool
    data: Any = None


class Prices:
    """The gateway's ``prices`` as this test scripts it (one answer per call)."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def prices(self) -> Answer:
        self.calls += 1
        return self.answers.pop(0)


RULES = SymbolRules(symbol="BTCUSDT", base_asset="BTC", quote_asset="USDT", tick_size=D("0.01"),
                    min_price=D("0.01"), max_price=D("1000000"), step_size=D("0.00001"),
                    min_qty=D("0.00001"), max_qty=D("9000"), min_notional=D("5"))


def _trade(fee: str = "0.001", asset: str = "BNB") -> VenueTrade:
    return VenueTrade(1, D("60000"), D("0.01"), D(fee), asset, False, 0)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def test_bnb_price_is_read_once_per_ttl_and_again_after_it() -> None:
    clock = Clock()
    gw = Prices(Answer(True, [{"symbol": "BNBUSDT", "price": "600"}]),
                Answer(True, [{"symbol": "BNBUSDT", "price": "700"}]))
    fees = FeePrices(clock)
    assert (await fees.valued(gw, RULES, _trade())).fee_quote == D("0.6")
    clock.t += PRICE_TTL_SECONDS - 1
    assert (await fees.valued(gw, RULES, _trade())).fee_quote == D("0.6")
    assert gw.calls == 1
    clock.t += 1
    assert (await fees.valued(gw, RULES, _trade())).fee_quote == D("0.7")
    assert gw.calls == 2


async def test_bnb_fee_with_no_price_to_be_had_goes_out_unvalued_and_asks_again_later() -> None:
    clock = Clock()
    gw = Prices(Answer(False), Answer(True, [{"symbol": "BNBUSDT", "price": "nonsense"},
                                             {"symbol": "ETHUSDT", "price": "3000"}]),
                Answer(True, [{"symbol": "BNBUSDT", "price": "650"}]))
    fees = FeePrices(clock)
    assert (await fees.valued(gw, RULES, _trade())).fee_quote is None
    assert (await fees.valued(gw, RULES, _trade())).fee_quote is None  # not asked again at once
    assert gw.calls == 1
    clock.t += RETRY_SECONDS
    assert (await fees.valued(gw, RULES, _trade())).fee_quote is None  # no usable BNB price
    clock.t += PRICE_TTL_SECONDS
    assert (await fees.valued(gw, RULES, _trade())).fee_quote == D("0.65")
    assert gw.calls == 3


async def test_fees_in_the_base_or_quote_asset_or_of_zero_are_left_to_position() -> None:
    gw = Prices()
    fees = FeePrices(Clock())
    for trade in (_trade("0.00001", "BTC"), _trade("0.6", "USDT"), _trade("0", "BNB")):
        assert (await fees.valued(gw, RULES, trade)).fee_quote is None
    assert (await fees.valued(gw, None, _trade())).fee_quote is None  # rules unknown
    assert gw.calls == 0


async def test_fill_api_returns_the_valued_bnb_fee_for_position_to_resync_with(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    """position's resync reads fills from this API when a bus event is late: without the value
    it would book the BNB fee as zero, and the valued event that follows is a duplicate."""
    await _bnb_paying_account_buys(bus, api, fake)
    await wait_until(lambda: _of(order_events(bus), "OrderFilled"), message="the fill")
    (row,) = (await api.get("/accounts/acc1/fills")).json()
    assert (D(row["fee"]), row["fee_asset"], D(row["fee_quote"])) == (D("0.001"), "BNB", D("0.6"))
