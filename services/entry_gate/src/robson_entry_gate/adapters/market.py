"""Latest market data per symbol. Each column moves only forward in event time, so ticks,
candles and context may arrive in any order and the result is the same."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from robson_kit.uow import UnitOfWork
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from robson_entry_gate.adapters.tables import market_state
from robson_entry_gate.domain.state import Market, MarketSnapshot


class MarketStore:
    def __init__(self) -> None:
        self.view: Market = {}

    async def load_all(self, session: AsyncSession) -> None:
        rows = (await session.execute(select(market_state))).all()
        self.view = {r.symbol: MarketSnapshot(
            symbol=r.symbol, last_price=r.last_price, price_at=r.price_at,
            funding_rate=r.funding_rate, mark_price=r.mark_price, context_at=r.context_at,
        ) for r in rows}

    async def record_price(self, uow: UnitOfWork, symbol: str, price: Decimal,
                           at: datetime) -> None:
        stmt = insert(market_state).values(symbol=symbol, last_price=price, price_at=at)
        stmt = stmt.on_conflict_do_update(
            index_elements=["symbol"],
            set_={"last_price": stmt.excluded.last_price, "price_at": stmt.excluded.price_at},
            where=or_(market_state.c.price_at.is_(None), market_state.c.price_at < at),
        )
        await uow.session.execute(stmt)
        uow.after_commit(lambda: self._merge_price(symbol, price, at))

    async def record_context(self, uow: UnitOfWork, symbol: str, funding: Decimal | None,
                             mark: Decimal | None, at: datetime) -> None:
        stmt = insert(market_state).values(symbol=symbol, funding_rate=funding, mark_price=mark,
                                           context_at=at)
        stmt = stmt.on_conflict_do_update(
            index_elements=["symbol"],
            set_={"funding_rate": stmt.excluded.funding_rate,
                  "mark_price": stmt.excluded.mark_price, "context_at": stmt.excluded.context_at},
            where=or_(market_state.c.context_at.is_(None), market_state.c.context_at < at),
        )
        await uow.session.execute(stmt)
        uow.after_commit(lambda: self._merge_context(symbol, funding, mark, at))

    def with_price(self, symbol: str, price: Decimal, at: datetime) -> Market:
        """The view as it will be once this price commits (for checks made in the handler)."""
        view = dict(self.view)
        view[symbol] = _price(view.get(symbol), symbol, price, at)
        return view

    def _merge_price(self, symbol: str, price: Decimal, at: datetime) -> None:
        self.view[symbol] = _price(self.view.get(symbol), symbol, price, at)

    def _merge_context(self, symbol: str, funding: Decimal | None, mark: Decimal | None,
                       at: datetime) -> None:
        snap = self.view.get(symbol) or MarketSnapshot(symbol=symbol)
        if snap.context_at is None or snap.context_at < at:
            snap = snap.model_copy(update={"funding_rate": funding, "mark_price": mark,
                                           "context_at": at})
        self.view[symbol] = snap


def _price(snap: MarketSnapshot | None, symbol: str, price: Decimal,
           at: datetime) -> MarketSnapshot:
    snap = snap or MarketSnapshot(symbol=symbol)
    if snap.price_at is None or snap.price_at < at:
        snap = snap.model_copy(update={"last_price": price, "price_at": at})
    return snap
