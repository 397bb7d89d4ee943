"""Crash and catch-up: a stop crossed while paper was down fills at the gap price, once."""

from __future__ import annotations

import asyncpg
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import ServiceProcess, wait_until

from .bus_helpers import D, candle, events_of, order, tick, waiter
from .conftest import paper_env


async def test_stop_crossed_while_killed_fills_at_gap_price_exactly_once_after_restart(
    bus: Bus, nats_url: str, database_url: str, schema: str, tmp_path
) -> None:
    env = paper_env(nats_url, database_url, schema)
    log = tmp_path / "paper.log"
    first = ServiceProcess("robson_paper", env, "ROBSON_PAPER_HTTP_PORT", log).start()
    try:
        await bus.publish(tick("100", 1))
        await wait_until(lambda: _market_acked(bus, 1), message="first tick processed")
        await bus.publish(order("buy", "BUY", "MARKET", "0.1", 2))
        await wait_until(waiter(bus, "OrderAccepted", "buy"), message="buy accepted")
        await bus.publish(tick("100", 3))
        await wait_until(waiter(bus, "OrderFilled", "buy"), message="buy filled")
        await bus.publish(order("stop", "SELL", "STOP_MARKET", "0.1", 4, stop="95"))
        await wait_until(waiter(bus, "OrderAccepted", "stop"), message="stop resting")
    finally:
        first.kill()
    # While paper is down the market gaps: a quiet candle, then one opening at 90 < 95.
    await bus.publish(candle("99", "100", "98", "98.5", start=60))
    await bus.publish(candle("90", "92", "89", "91", start=120))
    second = ServiceProcess("robson_paper", env, "ROBSON_PAPER_HTTP_PORT", log).start()
    try:
        (filled,) = await wait_until(waiter(bus, "OrderFilled", "stop"), message="stop caught up")
        assert filled.fill.price == D(90) and filled.fill.quantity == D("0.1")
        assert filled.fill.filled_at == candle("90", "92", "89", "91", start=120).open_time
        await wait_until(lambda: _market_acked(bus, 4), message="catch-up finished")
    finally:
        second.stop()
    third = ServiceProcess("robson_paper", env, "ROBSON_PAPER_HTTP_PORT", log).start()
    try:
        await bus.publish(candle("91", "91", "80", "85", start=180))
        await wait_until(lambda: _market_acked(bus, 5), message="later candle processed")
    finally:
        third.stop()
    assert len(await events_of(bus, "OrderFilled", "stop")) == 1
    assert await _probe(database_url, schema, "SELECT count(*) FROM fills WHERE order_id='stop'") == 1
    assert "paper.caught_up" in log.read_text()


async def _market_acked(bus: Bus, n: int) -> bool:
    info = await bus.js.consumer_info(s.MARKET.name, "paper_market")
    return info.ack_floor.stream_seq >= n and info.num_ack_pending == 0


async def _probe(database_url: str, schema: str, sql: str):
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()
