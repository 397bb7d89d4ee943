"""The venues' symbol rules position sizes orders by: the newest ``SymbolRules`` per (venue,
symbol), stored in the ``venue_rules`` table in the transaction of the message that told it,
and kept in memory (``VenueRulesBook``, loaded from the table at start, updated after each
commit), so sizing an order reads no table.

The table, not the stream, is what a restart starts from: a venue tells its rules when they
change, which may be less often than the stream keeps messages, and the durable consumer has
already taken everything before its position in the stream.
"""

from __future__ import annotations

import json
from typing import Any

from robson_contracts import SymbolRules, TradingMode
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from robson_position.adapters.tables import venue_rules
from robson_position.domain.lots import LotRules

Key = tuple[TradingMode, str]


class VenueRulesBook:
    def __init__(self) -> None:
        self._told: dict[Key, SymbolRules] = {}
        self._lots: dict[Key, LotRules] = {}

    def lot(self, venue: TradingMode, symbol: str) -> LotRules | None:
        """The lot rules in force on ``venue`` for ``symbol``; None while none were told."""
        return self._lots.get((venue, symbol))

    def told(self, venue: TradingMode, symbol: str) -> SymbolRules | None:
        return self._told.get((venue, symbol))

    def supersedes(self, told: SymbolRules) -> bool:
        """Whether ``told`` is at least as new as the rules in force (an older one, redelivered
        or overtaken in a retried batch, changes nothing)."""
        known = self._told.get((told.venue, told.symbol))
        return known is None or told.occurred_at >= known.occurred_at

    def put(self, told: SymbolRules) -> None:
        if self.supersedes(told):
            key = (told.venue, told.symbol)
            self._told[key] = told
            self._lots[key] = LotRules.of(told)

    async def load(self, session: Any) -> int:
        """Everything stored (start-up, before the consumers run); how many."""
        stored = await rules_of(session).all()
        for told in stored:
            self.put(told)
        return len(stored)


class VenueRulesTable:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, told: SymbolRules) -> bool:
        """Store ``told`` unless newer rules are stored for its venue and symbol; whether it
        was stored."""
        values = {"venue": told.venue.value, "symbol": told.symbol, "occurred_at": told.occurred_at,
                  "told": json.loads(told.model_dump_json())}
        statement = pg_insert(venue_rules).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["venue", "symbol"],
            set_={"occurred_at": statement.excluded.occurred_at, "told": statement.excluded.told},
            where=venue_rules.c.occurred_at <= statement.excluded.occurred_at,
        ).returning(venue_rules.c.symbol)
        return (await self.session.execute(statement)).first() is not None

    async def all(self) -> list[SymbolRules]:
        rows = await self.session.execute(select(venue_rules.c.told))
        return [SymbolRules.model_validate(row.told) for row in rows]


def rules_of(session: Any) -> VenueRulesTable:
    """The table, or the in-memory one a backtest's session carries (``adapters/memory.py``)."""
    memory = getattr(session, "memory", None)
    return VenueRulesTable(session) if memory is None else memory.rules_repository()
