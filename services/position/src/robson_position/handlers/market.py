"""Market data: ticks mark the in-memory book; closed candles persist marks and run the rules."""

from __future__ import annotations

from robson_contracts import Candle, TradeTick, TriggeredBy
from robson_kit.uow import UnitOfWork

from robson_position.adapters.repository import positions_of
from robson_position.domain.position import Position
from robson_position.domain.rules import evaluate
from robson_position.handlers.commands import close, modify
from robson_position.handlers.runtime import Runtime


async def handle_tick(tick: TradeTick, uow: UnitOfWork, rt: Runtime) -> None:
    rt.book.on_price(tick.symbol, tick.price)


async def handle_candle(candle: Candle, uow: UnitOfWork, rt: Runtime) -> None:
    """Every holding position on the symbol takes the candle (and the ticks' extremes since the
    last one) into its stored marks; the rules run on it. Positions the rules leave alone are
    written together in one statement."""
    if not candle.closed:
        return
    at = candle.close_time
    rt.book.prices[candle.symbol] = candle.close
    repo = positions_of(uow.session)
    marked: list[Position] = []
    for position in await repo.active_on(candle.symbol):
        s = position.s
        if not s.holds or (s.last_candle_at is not None and at <= s.last_candle_at):
            continue  # an older candle (or another timeframe's) says nothing new
        if s.opened_at is not None and candle.close_time <= s.opened_at:
            continue
        mark = rt.book.get(s.symbol, s.position_id)
        if mark is not None:
            for price in (mark.best, mark.worst):
                position.mark(candle.close, high=price, low=price)
        position.mark(candle.close, high=candle.high, low=candle.low)
        s.last_candle_at = at
        if not await _apply_rules(uow, rt, position, candle):
            marked.append(position)
    await repo.save_marks(marked)
    for position in marked:
        rt.after_commit(uow, position)


async def _apply_rules(uow: UnitOfWork, rt: Runtime, position: Position, candle: Candle) -> bool:
    """True when the rules changed (and saved) the position."""
    at = candle.close_time
    action = evaluate(position, await rt.settings.policy(uow, position.s.trader_id), at)
    if action is not None and action.close_reason is not None:
        return await close(uow, rt, position, action.close_reason, None, TriggeredBy.RULE_ENGINE,
                           candle, at, note=f"{action.close_reason.value} by policy")
    if action is not None and action.modification is not None:
        await modify(uow, rt, position, action.modification, TriggeredBy.RULE_ENGINE, False, candle, at)
        return position.s.last_modified_at == at  # rejected: only the marks to persist
    return False
