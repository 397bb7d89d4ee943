"""Rebuild the in-memory mirror from the schema at start (before any consumer runs)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from robson_decision.adapters.memory import CLOSED_KEPT, ClosedTrade, Memory, projection
from robson_decision.adapters.tables import candles, market_contexts, positions, trader_settings
from robson_decision.domain.context import Bar, MarketSnapshot
from robson_decision.domain.settings import TraderSettings


async def load_memory(conn: AsyncConnection, memory: Memory) -> Memory:
    """Fill an empty ``memory`` (the handlers already hold it) from the tables."""
    for row in await conn.execute(select(trader_settings)):
        memory.settings[row.trader_id] = TraderSettings.model_validate(row.settings)
    ordered = select(candles).order_by(candles.c.symbol, candles.c.timeframe, candles.c.open_time)
    for r in await conn.execute(ordered):
        memory.bars.setdefault((r.symbol, r.timeframe), []).append(
            Bar(r.open_time, r.open, r.high, r.low, r.close, r.volume)
        )
    by_time = select(market_contexts).order_by(
        market_contexts.c.symbol, market_contexts.c.occurred_at
    )
    for r in await conn.execute(by_time):
        memory.market.setdefault(r.symbol, []).append(
            MarketSnapshot(r.funding_rate, r.mark_price, r.index_price, r.occurred_at)
        )
    for r in await conn.execute(select(positions).where(positions.c.closed_at.is_(None))):
        memory.add_open(projection(r._mapping))
    await _load_closed(conn, memory)
    return memory


async def _load_closed(conn: AsyncConnection, memory: Memory) -> None:
    """The newest CLOSED_KEPT closed trades per trader (one more tells that some were cut)."""
    rank = (
        func.row_number()
        .over(
            partition_by=positions.c.trader_id,
            order_by=(positions.c.closed_at.desc(), positions.c.position_id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(
            positions.c.trader_id,
            positions.c.position_id,
            positions.c.closed_at,
            positions.c.realized_pnl,
            positions.c.pnl_pct,
            rank,
        )
        .where(positions.c.closed_at.is_not(None))
        .subquery()
    )
    rows = await conn.execute(
        select(ranked).where(ranked.c.rank <= CLOSED_KEPT + 1).order_by(ranked.c.rank.desc())
    )
    for r in rows:
        if r.rank > CLOSED_KEPT:
            memory.trimmed.add(r.trader_id)
            continue
        memory.closed.setdefault(r.trader_id, []).append(
            ClosedTrade(r.closed_at, r.position_id, r.realized_pnl, r.pnl_pct)
        )
