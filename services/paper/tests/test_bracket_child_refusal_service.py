"""paper on real NATS + Postgres: a bracket child the venue would refuse reaches the owner as
the OrderRejected a refused plain order is, with its reason, position, list and role."""

from __future__ import annotations

from robson_contracts import OrderRole
from robson_kit.bus import Bus
from robson_kit.testing import wait_until
from robson_paper.deps import PaperService

from .bus_helpers import D, bracket, events_of, tick, waiter


async def test_bracket_take_profit_below_min_notional_reaches_the_owner_as_order_rejected(
    bus: Bus, paper: PaperService
) -> None:
    await bus.publish(tick("100", 1))
    await wait_until(lambda: _price_seen(paper), message="first price")
    await bus.publish(bracket(2, fraction="0.3"))
    await wait_until(waiter(bus, "OrderAccepted", "e1"), message="entry accepted")
    await bus.publish(tick("100", 3))
    await wait_until(waiter(bus, "OrderAccepted", "e1-sl"), message="children released")
    (tp,) = await wait_until(waiter(bus, "OrderRejected", "e1-tp"), message="take-profit refused")
    assert (tp.reason_code, tp.position_id, tp.list_id, tp.role) == (
        "MIN_NOTIONAL", "pos1", "B1", OrderRole.TAKE_PROFIT)
    assert tp.message == "notional 3.30 is below the minimum 5"
    (tps,) = await events_of(bus, "OrderRejected", "e1-tps")
    assert (tps.reason_code, tps.role) == ("MIN_NOTIONAL", OrderRole.STOP_LOSS)
    (stop,) = await events_of(bus, "OrderAccepted", "e1-sl")
    assert stop.order.quantity == D("0.07")
    assert await events_of(bus, "OrderAccepted", "e1-tp") == []


async def _price_seen(service: PaperService) -> bool:
    ex = service.deps.exchange
    return ex is not None and ex.market("BTCUSDT").last_price is not None
