"""Queries and idempotent writes on the signal schema."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from robson_contracts import SignalDetected, Timeframe, encode
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from robson_signal.adapters.tables import bindings, candles, market_context, signals
from robson_signal.domain.bars import Bar
from robson_signal.domain.bindings import TraderBinding


async def store_bars(session: AsyncSession, bars: list[Bar], source: str) -> None:
    if not bars:
        return
    rows = [
        {
            "symbol": b.symbol,
            "timeframe": b.timeframe.value,
            "open_ms": b.open_ms,
            "open": b.open,
            "high": b.high,
            "low": b.low,
            "close": b.close,
            "volume": b.volume,
            "source": source,
        }
        for b in bars
    ]
    await session.execute(insert(candles).on_conflict_do_nothing(), rows)


async def load_candles(
    session: AsyncSession,
    symbol: str,
    timeframe: Timeframe,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int = 1000,
) -> list[tuple[Bar, str]]:
    """Stored bars with their source, open_time in [start, end), oldest first."""
    query = select(candles).where(
        candles.c.symbol == symbol, candles.c.timeframe == timeframe.value
    )
    if start_ms is not None:
        query = query.where(candles.c.open_ms >= start_ms)
    if end_ms is not None:
        query = query.where(candles.c.open_ms < end_ms)
    rows = (await session.execute(query.order_by(candles.c.open_ms).limit(limit))).all()
    return [
        (
            Bar(
                r.symbol,
                Timeframe(r.timeframe),
                r.open_ms,
                r.open,
                r.high,
                r.low,
                r.close,
                r.volume,
            ),
            r.source,
        )
        for r in rows
    ]


async def last_bar_ms(session: AsyncSession, symbol: str, timeframe: Timeframe) -> int | None:
    return (
        await session.execute(
            select(func.max(candles.c.open_ms)).where(
                candles.c.symbol == symbol, candles.c.timeframe == timeframe.value
            )
        )
    ).scalar_one()


async def insert_signals(session: AsyncSession, items: list[SignalDetected]) -> set[str]:
    """Insert signals not seen before; returns the ids that were new."""
    if not items:
        return set()
    rows = [
        {
            "signal_id": s.signal_id,
            "trader_id": s.trader_id,
            "account_id": s.account_id,
            "strategy": s.strategy,
            "symbol": s.symbol,
            "timeframe": s.timeframe.value,
            "direction": s.direction.value,
            "origin": s.origin.value,
            "occurred_at": s.occurred_at,
            "payload": json.loads(encode(s)),
        }
        for s in items
    ]
    stmt = insert(signals).on_conflict_do_nothing().returning(signals.c.signal_id)
    result = (
        await session.execute(stmt, rows)
        if len(rows) > 1
        else await session.execute(stmt.values(rows))
    )
    return {r.signal_id for r in result.all()}


async def query_signals(
    session: AsyncSession,
    filters: dict[str, Any],
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    query = select(signals.c.payload)
    for column, value in filters.items():
        if value is not None:
            query = query.where(signals.c[column] == value)
    if since is not None:
        query = query.where(signals.c.occurred_at >= since)
    if until is not None:
        query = query.where(signals.c.occurred_at < until)
    query = query.order_by(signals.c.occurred_at, signals.c.signal_id).limit(limit)
    return [r.payload for r in (await session.execute(query)).all()]


async def save_binding(session: AsyncSession, binding: TraderBinding) -> None:
    body = binding.model_dump(mode="json")
    await session.execute(
        insert(bindings)
        .values(trader_id=binding.trader_id, body=body)
        .on_conflict_do_update(
            index_elements=["trader_id"], set_={"body": body, "updated_at": func.now()}
        )
    )


async def load_bindings(session: AsyncSession) -> list[TraderBinding]:
    rows = (await session.execute(select(bindings.c.body).order_by(bindings.c.trader_id))).all()
    return [TraderBinding.model_validate(r.body) for r in rows]


async def store_context(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Rows of (symbol, metric, at, value); one per symbol/metric/time, repeats ignored."""
    if not rows:
        return 0
    result = await session.execute(
        insert(market_context).on_conflict_do_nothing().returning(market_context.c.symbol), rows
    )
    return len(result.all())


async def query_context(
    session: AsyncSession, symbol: str, metric: str | None, limit: int
) -> list[dict[str, Any]]:
    query = select(market_context).where(market_context.c.symbol == symbol)
    if metric:
        query = query.where(market_context.c.metric == metric)
    rows = (await session.execute(query.order_by(market_context.c.at.desc()).limit(limit))).all()
    return [
        {
            "symbol": r.symbol,
            "metric": r.metric,
            "at": r.at.isoformat(),
            "value": format(r.value, "f"),
        }
        for r in rows
    ]
