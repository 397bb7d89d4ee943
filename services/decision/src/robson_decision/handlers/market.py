"""Market context (funding, mark price) kept per symbol for the context builder."""

from __future__ import annotations

from datetime import timedelta

from robson_contracts import MarketContext
from robson_kit.uow import UnitOfWork

from robson_decision.adapters.repository import Repository

KEEP = timedelta(days=2)


async def on_market_context(message: MarketContext, uow: UnitOfWork) -> None:
    await Repository(uow.session).add_market_context(message, KEEP)
