"""execution tells Binance's rules for the symbols it trades (``SymbolRules`` on
``robson.venue.rules.live.<symbol>``) when it first needs them and when an exchangeInfo
refresh finds them changed; an unchanged refresh tells nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from robson_contracts import SymbolRules, TradingMode
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import read_stream, wait_until

from .conftest import enable_live
from .fakes import FakeBinance
from .helpers import account_events, of, order_events, submit

D = Decimal


async def told(bus: Bus) -> list[SymbolRules]:
    return await read_stream(bus, s.ALL_VENUE_RULES)


def _refreshes(fake: FakeBinance) -> int:
    return sum(1 for m, path, _ in fake.requests if (m, path) == ("GET", "exchangeInfo"))


async def test_execution_tells_the_rules_of_a_symbol_it_trades_and_then_only_their_changes(
    bus: Bus, quick_rules: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(quick_rules)
    await wait_until(lambda: _reconciled(bus), timeout=15, message="reconciliation")
    await bus.publish(submit("warm"))
    await wait_until(lambda: _filled(bus, "warm"), message="first fill")
    [first] = await wait_until(lambda: _at_least(bus, 1), timeout=10, message="rules told")
    assert (first.venue, first.symbol, first.base_asset, first.quote_asset) == (
        TradingMode.LIVE, "BTCUSDT", "BTC", "USDT")
    assert (first.tick_size, first.step_size, first.min_qty, first.max_qty, first.min_notional,
            first.status) == (D("0.01"), D("0.00001"), D("0.00001"), D("9000"), D("5"), "TRADING")
    seen = _refreshes(fake)
    await wait_until(lambda: _refreshes(fake) >= seen + 2, timeout=10, message="two refreshes")
    assert await told(bus) == [first], "unchanged rules told again"
    fake.set_filter("BTCUSDT", "LOT_SIZE", stepSize="0.001", minQty="0.001")

    async def changed_told() -> list[Any] | None:  # the stream keeps the latest per symbol
        found = await told(bus)
        return found if found and found[-1].message_id != first.message_id else None

    [changed] = await wait_until(changed_told, timeout=10, message="change told")
    assert (changed.step_size, changed.min_qty) == (D("0.001"), D("0.001"))
    assert changed.occurred_at >= first.occurred_at and changed.message_id != first.message_id


async def _at_least(bus: Bus, n: int) -> list[Any] | None:
    found = await told(bus)
    return found if len(found) >= n else None


async def _reconciled(bus: Bus) -> bool:
    return bool(of(await account_events(bus), "ReconciliationCompleted"))


async def _filled(bus: Bus, order_id: str) -> bool:
    return bool(of(await order_events(bus), "OrderFilled", order_id))
