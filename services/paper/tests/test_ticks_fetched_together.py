"""Ticks fetched in one batch act in their order. The consumer asks ``wants`` of the whole
batch before its transaction opens, and paper's ``wants`` applies a quiet tick in memory on
the spot: a quiet tick after one that acts must not be applied ahead of it, or that one, now
older than the last price, is dropped as already seen and its fill never happens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from robson_contracts import encode
from robson_contracts import subjects as s
from robson_kit.bus import Bus, headers_for
from robson_kit.testing import wait_until
from robson_paper.deps import PaperService

from .bus_helpers import D, at, order, tick, waiter
from .conftest import started_paper
from .test_batched_turns import _drained


@pytest_asyncio.fixture
async def slow_paced(bus: Bus, nats_url: str, database_url: str,
                     schema: str) -> AsyncIterator[PaperService]:
    """Paper fetching market data at most once a second: ticks published together arrive in
    one fetched batch."""
    async with started_paper(nats_url, database_url, schema, ack_wait_seconds=5,
                             paced_fetch_seconds=1) as service:
        yield service


async def test_quiet_tick_fetched_after_one_crossing_a_limit_leaves_that_fill_to_happen(
    bus: Bus, slow_paced: PaperService
) -> None:
    await bus.publish(tick("100", 1))
    await wait_until(lambda: _drained(bus), message="first price")
    limit = order("b1", "BUY", "LIMIT", "0.1", 1.1, price="95")
    await bus.publish_raw(s.order_command("PAPER", "acc1", "BTCUSDT"), encode(limit),
                          headers_for(limit))
    await wait_until(waiter(bus, "OrderAccepted", "b1"), message="the limit resting")
    # 94 crosses the limit; 96, 0.1 s later, is out of its reach (and its price is not due to
    # be stored): alone, it would be applied in memory with no transaction.
    await bus.publish(tick("94", 1.2))
    await bus.publish(tick("96", 1.3))
    await wait_until(lambda: _drained(bus), message="both ticks taken")
    [filled] = await wait_until(waiter(bus, "OrderFilled", "b1"), timeout=10,
                                message="the limit filled by the tick that crossed it")
    assert (filled.fill.price, filled.fill.filled_at) == (D("95"), at(1.2))  # resting: its price
    market = slow_paced.deps.exchange.markets["BTCUSDT"]
    assert market.last_price == D("96")
