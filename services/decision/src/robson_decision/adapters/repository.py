"""Reads and writes of the decision schema, on the unit of work's session."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from robson_contracts import Candle, MarketContext, TakeProfitLevel
from robson_contracts.types import PositionSide
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from robson_decision.adapters.tables import (
    candles,
    decisions,
    market_contexts,
    model_calls,
    positions,
    trader_settings,
)
from robson_decision.domain.context import Bar, MarketSnapshot, OpenPosition, Performance
from robson_decision.domain.settings import DEFAULT_SETTINGS, TraderSettings


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    # --- market data ------------------------------------------------------------------------

    async def add_candle(self, c: Candle, keep: int) -> None:
        await self.s.execute(
            insert(candles)
            .values(
                symbol=c.symbol,
                timeframe=c.timeframe.value,
                open_time=c.open_time,
                open=c.open,
                high=c.high,
                low=c.low,
                close=c.close,
                volume=c.volume,
            )
            .on_conflict_do_nothing()
        )
        horizon = c.open_time - timedelta(seconds=c.timeframe.seconds * keep)
        await self.s.execute(
            delete(candles).where(
                and_(
                    candles.c.symbol == c.symbol,
                    candles.c.timeframe == c.timeframe.value,
                    candles.c.open_time < horizon,
                )
            )
        )

    async def bars(
        self, symbol: str, timeframe: str, until: datetime, limit: int
    ) -> tuple[Bar, ...]:
        rows = (
            await self.s.execute(
                select(candles)
                .where(
                    candles.c.symbol == symbol,
                    candles.c.timeframe == timeframe,
                    candles.c.open_time <= until,
                )
                .order_by(candles.c.open_time.desc())
                .limit(limit)
            )
        ).all()
        return tuple(
            Bar(r.open_time, r.open, r.high, r.low, r.close, r.volume) for r in reversed(rows)
        )

    async def add_market_context(self, m: MarketContext, keep: timedelta) -> None:
        await self.s.execute(
            insert(market_contexts)
            .values(
                symbol=m.symbol,
                occurred_at=m.occurred_at,
                funding_rate=m.funding_rate,
                mark_price=m.mark_price,
                index_price=m.index_price,
            )
            .on_conflict_do_nothing()
        )
        await self.s.execute(
            delete(market_contexts).where(
                market_contexts.c.symbol == m.symbol,
                market_contexts.c.occurred_at < m.occurred_at - keep,
            )
        )

    async def market(self, symbol: str, until: datetime) -> MarketSnapshot:
        row = (
            await self.s.execute(
                select(market_contexts)
                .where(market_contexts.c.symbol == symbol, market_contexts.c.occurred_at <= until)
                .order_by(market_contexts.c.occurred_at.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            return MarketSnapshot()
        return MarketSnapshot(row.funding_rate, row.mark_price, row.index_price, row.occurred_at)

    # --- positions --------------------------------------------------------------------------

    async def upsert_position(self, values: dict[str, Any]) -> None:
        stmt = insert(positions).values(**values)
        await self.s.execute(stmt.on_conflict_do_nothing(index_elements=["position_id"]))

    async def update_position(self, position_id: str, **values: Any) -> None:
        await self.s.execute(
            update(positions).where(positions.c.position_id == position_id).values(**values)
        )

    async def open_position(self, trader_id: str, symbol: str) -> OpenPosition | None:
        row = (
            await self.s.execute(
                select(positions)
                .where(
                    positions.c.trader_id == trader_id,
                    positions.c.symbol == symbol,
                    positions.c.closed_at.is_(None),
                )
                .order_by(positions.c.opened_at.desc())
                .limit(1)
            )
        ).first()
        return _position(row) if row else None

    async def open_positions_on(self, symbol: str) -> list[tuple[OpenPosition, dict[str, Any]]]:
        rows = (
            await self.s.execute(
                select(positions)
                .where(positions.c.symbol == symbol, positions.c.closed_at.is_(None))
                .order_by(positions.c.position_id)
            )
        ).all()
        return [
            (
                _position(r),
                {
                    "account_id": r.account_id,
                    "trader_id": r.trader_id,
                    "timeframe": r.timeframe,
                    "last_suggestion": r.last_suggestion,
                },
            )
            for r in rows
        ]

    async def performance(self, trader_id: str, until: datetime, last: int = 10) -> Performance:
        rows = (
            await self.s.execute(
                select(positions.c.realized_pnl, positions.c.pnl_pct)
                .where(
                    positions.c.trader_id == trader_id,
                    positions.c.closed_at.is_not(None),
                    positions.c.closed_at <= until,
                )
                .order_by(positions.c.closed_at.desc())
                .limit(last)
            )
        ).all()
        if not rows:
            return Performance()
        wins = sum(1 for r in rows if r.realized_pnl > 0)
        avg = sum((r.pnl_pct or Decimal(0) for r in rows), Decimal(0)) / len(rows)
        return Performance(len(rows), wins, len(rows) - wins, avg.quantize(Decimal("0.01")))

    # --- settings ---------------------------------------------------------------------------

    async def settings(self, trader_id: str) -> TraderSettings:
        row = (
            await self.s.execute(
                select(trader_settings.c.settings).where(trader_settings.c.trader_id == trader_id)
            )
        ).first()
        return TraderSettings.model_validate(row.settings) if row else DEFAULT_SETTINGS

    async def put_settings(self, trader_id: str, settings: TraderSettings, at: datetime) -> None:
        doc = json.loads(settings.model_dump_json())
        await self.s.execute(
            insert(trader_settings)
            .values(trader_id=trader_id, settings=doc, updated_at=at)
            .on_conflict_do_update(
                index_elements=["trader_id"], set_={"settings": doc, "updated_at": at}
            )
        )

    # --- decisions and model calls ----------------------------------------------------------

    async def add_decision(self, values: dict[str, Any]) -> bool:
        stmt = (
            insert(decisions)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(decisions.c.decision_id)
        )
        return (await self.s.execute(stmt)).first() is not None

    async def decision_timeframe(self, decision_id: str | None) -> str | None:
        if decision_id is None:
            return None
        row = (
            await self.s.execute(
                select(decisions.c.timeframe).where(decisions.c.decision_id == decision_id)
            )
        ).first()
        return row.timeframe if row else None

    async def llm_calls_on(self, trader_id: str, day_start: datetime) -> int:
        total = (
            await self.s.execute(
                select(func.coalesce(func.sum(decisions.c.model_calls), 0)).where(
                    decisions.c.trader_id == trader_id,
                    decisions.c.occurred_at >= day_start,
                    decisions.c.occurred_at < day_start + timedelta(days=1),
                )
            )
        ).scalar_one()
        return int(total)

    async def add_model_calls(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.s.execute(insert(model_calls), rows)

    async def recorded_calls(self, prompt_hash: str) -> list[Any]:
        return list(
            (
                await self.s.execute(
                    select(model_calls)
                    .where(model_calls.c.prompt_hash == prompt_hash)
                    .order_by(model_calls.c.call_id)
                )
            ).all()
        )


def _position(r: Any) -> OpenPosition:
    return OpenPosition(
        position_id=r.position_id,
        side=PositionSide(r.side),
        quantity=r.quantity,
        entry_price=r.entry_price,
        stop_loss=r.stop_loss,
        initial_stop=r.initial_stop,
        take_profits=tuple(TakeProfitLevel.model_validate(t) for t in r.take_profits),
        opened_at=r.opened_at,
        trailing=r.trailing,
    )
