"""Ticks, closed candles and market context: marks, funding and data age; the kill switch
also watches prices, so a crash in equity is caught between fills."""

from __future__ import annotations

from datetime import datetime

from robson_contracts import Candle, MarketContext, Message, TradeTick
from robson_kit.uow import UnitOfWork

from robson_entry_gate.domain.killswitch import drawdown_breach
from robson_entry_gate.domain.projection import roll
from robson_entry_gate.domain.state import Market
from robson_entry_gate.handlers.deps import GateDeps, finish


async def handle_market(ev: Message, uow: UnitOfWork, deps: GateDeps) -> None:
    if isinstance(ev, TradeTick):
        await deps.market.record_price(uow, ev.symbol, ev.price, ev.occurred_at)
        view = deps.market.with_price(ev.symbol, ev.price, ev.occurred_at)
        await _watch_drawdown(uow, deps, ev.symbol, view, ev.occurred_at, ev)
    elif isinstance(ev, Candle):
        if not ev.closed:
            return
        await deps.market.record_price(uow, ev.symbol, ev.close, ev.close_time)
        view = deps.market.with_price(ev.symbol, ev.close, ev.close_time)
        await _watch_drawdown(uow, deps, ev.symbol, view, ev.close_time, ev)
    elif isinstance(ev, MarketContext):
        await deps.market.record_context(uow, ev.symbol, ev.funding_rate, ev.mark_price,
                                         ev.occurred_at)


async def _watch_drawdown(uow: UnitOfWork, deps: GateDeps, symbol: str, view: Market,
                          at: datetime, cause: Message) -> None:
    for cached in deps.accounts.cached():
        if cached.kill_switch is not None or not any(
            p.symbol == symbol for p in cached.positions.values()
        ):
            continue
        policy = deps.policies.account(cached.account_id)
        if drawdown_breach(cached, view, policy, at) is None:
            continue
        state, version = await deps.accounts.lock(uow.session, cached.account_id)
        roll(state, view, policy, at)
        await finish(uow, deps, state, version, state.last_event_at or at, cause, market=view)
