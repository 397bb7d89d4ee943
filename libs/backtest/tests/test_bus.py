"""The in-memory bus runs a fetched batch as the kit does: a message that fails for good in a
transaction of its own (the only one ``wants`` took of its batch) leaves nothing behind."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from robson_backtest.bus import MemoryBus
from robson_backtest.uow import MemorySession, MemoryUnitOfWork
from robson_contracts import Message, TradeTick
from robson_contracts import subjects as s
from robson_kit.clock import ManualClock
from robson_kit.consumer import ConsumerSpec
from robson_kit.errors import PermanentError

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _tick(price: str, seconds: int) -> TradeTick:
    return TradeTick(occurred_at=T0 + timedelta(seconds=seconds), symbol="BTCUSDT",
                     price=Decimal(price))


def _bus_with_a_failing_consumer(heard: list[Message]) -> MemoryBus:
    """``poison`` takes ticks above 100 only; its handler emits a tick, then fails for good.
    ``listener`` hears every tick that goes out, the ones emitted included."""

    async def poison(tick: TradeTick, uow: MemoryUnitOfWork) -> None:
        uow.emit(_tick("1", 60))
        raise PermanentError("POISON", f"tick at {tick.price}")

    async def listen(tick: TradeTick, uow: MemoryUnitOfWork) -> None:
        heard.append(tick)

    bus = MemoryBus(ManualClock(T0))
    bus.subscribe([
        ConsumerSpec("poison", s.MARKET, (), poison, accepts=(TradeTick,),  # type: ignore[arg-type]
                     wants=lambda tick: tick.price > 100),
        ConsumerSpec("listener", s.MARKET, (), listen, accepts=(TradeTick,)),  # type: ignore[arg-type]
    ], MemorySession)
    return bus


def test_the_only_message_taken_of_a_batch_failing_for_good_emits_nothing() -> None:
    heard: list[Message] = []
    bus = _bus_with_a_failing_consumer(heard)
    bus.publish([_tick("99", 0), _tick("101", 1)])  # one fetched batch; ``wants`` takes one

    asyncio.run(bus.drain())

    assert [(d.consumer, d.reason_code) for d in bus.dead_letters] == [("poison", "POISON")]
    assert [t.price for t in heard] == [Decimal(99), Decimal(101)]  # the emitted tick never went out
