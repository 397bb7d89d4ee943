"""paper's runtime in memory: the ``turn`` its handlers run the exchange in, without the store.
The exchange is the only copy, so there is nothing to write before commit or reload after."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from robson_kit.uow import UnitOfWork
from robson_paper.domain import EngineConfig, Exchange
from robson_paper.domain.rules import SymbolRules
from robson_paper.handlers.outgoing import messages


class MemoryRuntime:
    def __init__(self, config: EngineConfig, rules: dict[str, SymbolRules]) -> None:
        self.config, self.rules = config, rules
        self.exchange = Exchange(config, rules)

    @asynccontextmanager
    async def turn(self, uow: UnitOfWork, cause_id: uuid.UUID, correlation_id: uuid.UUID,
                   at: datetime) -> AsyncIterator[Exchange]:
        ex = self.exchange
        try:
            yield ex
        except BaseException:
            ex.drain()
            raise
        events = ex.drain()
        if events:
            for message in messages(events, ex, cause_id, correlation_id, at):
                uow.emit(message)
        # what the store would write; memory is the store here
        ex.dirty_orders.clear()
        ex.dirty_accounts.clear()
        ex.dirty_markets.clear()
