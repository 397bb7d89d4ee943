"""Market data in: ticks move prices; a closed candle fills in only what no tick covered."""

from __future__ import annotations

import logging

from robson_contracts import Candle, Message, TradeTick
from robson_kit import logs
from robson_kit.uow import UnitOfWork

from robson_paper.runtime import Runtime

log = logs.get_logger(__name__)


def wants_market(message: Message, runtime: Runtime) -> bool:
    """Whether a market message needs a transaction: not a tick that can fill nothing (the
    runtime applies it in memory: ``Runtime.apply_quiet_tick``). The consumer asks this of a
    whole fetched batch before its transaction opens: a message that needs one holds its
    symbol's later ticks back from memory until it has committed (``Runtime.awaits``), so none
    overtakes it (it would then be older than the last price, and dropped as seen)."""
    apply = getattr(runtime, "apply_quiet_tick", None)  # an in-memory runtime (backtest) has none
    if apply is None:
        return True
    if isinstance(message, TradeTick):
        if apply(message.symbol, message.price, message.occurred_at, message.quantity,
                 message.trade_id):
            return False
        runtime.awaits(message.symbol, message.occurred_at)
    elif isinstance(message, Candle):
        runtime.awaits(message.symbol, message.close_time)
    return True


async def handle_market(message: Message, uow: UnitOfWork, runtime: Runtime) -> None:
    if isinstance(message, TradeTick):
        await handle_tick(message, uow, runtime)
        at = message.occurred_at
    elif isinstance(message, Candle):
        if message.closed:
            await handle_candle(message, uow, runtime)
        at = message.close_time
    else:
        return
    settled = getattr(runtime, "settled", None)
    if settled is not None:
        uow.after_commit(lambda: settled(message.symbol, at))


async def handle_tick(tick: TradeTick, uow: UnitOfWork, runtime: Runtime) -> None:
    async with runtime.turn(uow, tick.message_id, tick.correlation_id, tick.occurred_at) as ex:
        if ex.market(tick.symbol).seen(tick.occurred_at):
            return  # an older or repeated movement: never act twice on the same price
        ex.on_tick(tick.symbol, tick.price, tick.occurred_at, tick.quantity, tick.trade_id)


async def handle_candle(candle: Candle, uow: UnitOfWork, runtime: Runtime) -> None:
    async with runtime.turn(uow, candle.message_id, candle.correlation_id,
                            candle.close_time) as ex:
        applied = ex.on_candle(candle)
        if applied and logs.enabled_for(logging.INFO):  # every quiet candle of a backtest
            resting = sum(1 for o in ex.orders.values() if o.symbol == candle.symbol)
            log.info("paper.caught_up", symbol=candle.symbol, timeframe=candle.timeframe.value,
                     open_time=candle.open_time.isoformat(), path_points=applied,
                     resting_orders=resting)
