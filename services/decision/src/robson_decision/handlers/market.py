"""Market context (funding, mark price) kept per symbol for the context builder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from robson_contracts import MarketContext
from robson_kit.uow import UnitOfWork

from robson_decision.adapters.memory import Memory
from robson_decision.adapters.repository import Repository
from robson_decision.domain.context import MarketSnapshot

KEEP = timedelta(days=2)


@dataclass
class MarketContextKeeper:
    memory: Memory
    repository: Callable[[UnitOfWork], Repository] = Repository

    async def __call__(self, m: MarketContext, uow: UnitOfWork) -> None:
        await self.repository(uow).add_market_context(m, m.occurred_at - KEEP)
        snapshot = MarketSnapshot(m.funding_rate, m.mark_price, m.index_price, m.occurred_at)
        uow.after_commit(lambda: self.memory.add_market(m.symbol, snapshot, KEEP))
