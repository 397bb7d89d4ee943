"""Second review: bracket levels measured from the fill."""

from __future__ import annotations

from decimal import Decimal

import httpx
from robson_contracts import BracketTakeProfit, SubmitBracketOrder, TradingMode
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .conftest import enable_live
from .fakes import FakeBinance
from .helpers import T0, account_events, of, order_events, submit

D = Decimal


async def _ready(bus: Bus) -> None:
    async def ready() -> bool:
        return bool(of(await account_events(bus), "ReconciliationCompleted"))
    await wait_until(ready, message="reconciliation")


async def _has(bus: Bus, name: str, order_id: str, n: int = 1) -> bool:
    return len(of(await order_events(bus), name, order_id)) >= n


async def test_bracket_levels_measured_from_the_fill_are_moved_to_the_entry_average(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    """``levels_reference`` (policy levels_from=fill): paper and position move the stop and the
    take-profit to the same distance from the entry's average fill; the live children must too."""
    await enable_live(api)
    await _ready(bus)
    fake.engine.set_price("BTCUSDT", D("61000"))  # the decision said 60000; the entry fills at 61000
    await bus.publish(SubmitBracketOrder(
        occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE, position_id="pos1", list_id="br1",
        entry=submit("e1", qty="0.01").order, stop_price=D("55000"), stop_order_id="sl1",
        levels_reference=D("60000"),
        take_profits=(BracketTakeProfit(order_id="tp1", stop_order_id="sl1", price=D("66000"), fraction=D(1)),)))
    await wait_until(lambda: _has(bus, "OrderAccepted", "tp1"), message="children placed")
    exits = {o.type: o for o in fake.engine.open_orders() if o.side == "SELL"}
    assert exits["STOP_LOSS"].stop_price == D("55916.67")  # 55000 × 61000 / 60000
    assert exits["LIMIT_MAKER"].price == D("67100")  # 66000 × 61000 / 60000
