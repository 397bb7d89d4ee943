"""Paced market consumers: a steady stream of ticks is fetched in bursts (one wakeup for many)
while nobody synchronizes on the consumer; a lockstep listener's announcement turns pacing off,
and a backlog still drains in full batches at once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from statistics import median
from typing import Any

from nats.js.api import DeliverPolicy
from robson_contracts import TradeTick
from robson_contracts import subjects as s
from robson_kit import progress
from robson_kit.bus import Bus
from robson_kit.consumer import ConsumerSpec
from robson_kit.service import Service
from robson_kit.testing import reset_streams, wait_until
from sampleapp.app import SampleSettings

from .test_messaging import T0

MIGRATIONS = Path(__file__).parent / "sampleapp" / "migrations"
PACE = 0.2


async def _unused(message: Any, uow: Any) -> None:
    raise AssertionError("paced ticks here never need a transaction")


async def test_a_paced_consumer_takes_a_steady_stream_in_bursts_until_a_listener_announces_itself(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    await reset_streams(bus)
    seen: dict[str, float] = {}

    def wants(tick: TradeTick) -> bool:
        seen[tick.trade_id or ""] = time.monotonic()
        return False

    spec = ConsumerSpec("paced_ticks", s.MARKET, (s.ALL_TICKS,), _unused, accepts=(TradeTick,),
                        deliver_policy=DeliverPolicy.NEW, record_inbox=False, wants=wants,
                        paced=True)
    service = Service(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                     paced_fetch_seconds=PACE), MIGRATIONS, consumers=[spec])
    await service.start()
    [consumer] = service.consumers
    batches: list[int] = []
    process = consumer.process

    async def counted(msgs: list[Any]) -> None:
        batches.append(len(msgs))
        await process(msgs)

    consumer.process = counted  # type: ignore[method-assign]
    sent: dict[str, float] = {}

    async def steady(prefix: str, n: int) -> None:  # 100 ticks/s, one at a time
        for i in range(n):
            sent[f"{prefix}{i}"] = time.monotonic()
            await bus.publish(TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100",
                                        trade_id=f"{prefix}{i}"))
            await asyncio.sleep(0.01)

    def waits(prefix: str) -> list[float]:
        return [seen[k] - sent[k] for k in sent if k.startswith(prefix)]

    # Timing is compared within the run, never to fixed figures alone: the host may be busy.
    try:
        started = time.monotonic()
        await steady("live", 100)
        await wait_until(lambda: len(seen) == 100, message="live ticks handled")
        elapsed = time.monotonic() - started
        assert len(batches) <= elapsed / PACE + 4  # a wakeup per pace, not one per tick (100)
        assert median(waits("live")) < PACE + 0.1  # held for the pace in course, not longer
        await progress.announce(bus.nc)  # a lockstep replay synchronizes on us: prompt again
        await asyncio.sleep(PACE + 0.05)  # the paced wait in course ends
        await steady("lockstep", 20)
        await wait_until(lambda: len(seen) == 120, message="lockstep ticks handled")
        # taken as they come, not held for a pace
        assert median(waits("lockstep")) < median(waits("live")) / 3
        demand = await progress.Demand.of(service.bus.nc)
        demand.until = 0.0  # the replay is gone: paced again
        batches.clear()
        for i in range(300):  # a backlog: drained in full batches, one after another
            await bus.publish(TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100",
                                        trade_id=f"backlog{i}"))
        started = time.monotonic()
        await wait_until(lambda: len(seen) == 420, message="backlog handled")
        assert time.monotonic() - started < 300 / 64 * PACE  # not one pace per batch
    finally:
        await service.stop()
