"""paper's runtime in memory: the ``turn`` its handlers run the exchange in, without the store.
The exchange is the only copy, so there is nothing to write before commit or reload after."""

from __future__ import annotations

import uuid
from datetime import datetime
from types import TracebackType

from robson_kit.uow import UnitOfWork
from robson_paper.domain import EngineConfig, Exchange
from robson_paper.domain.rules import SymbolRules
from robson_paper.handlers.outgoing import messages


class MemoryRuntime:
    def __init__(self, config: EngineConfig, rules: dict[str, SymbolRules]) -> None:
        self.config, self.rules = config, rules
        self.exchange = Exchange(config, rules)

    def turn(self, uow: UnitOfWork, cause_id: uuid.UUID, correlation_id: uuid.UUID,
             at: datetime) -> Turn:
        return Turn(self.exchange, uow, cause_id, correlation_id, at)


class Turn:
    """``async with runtime.turn(...) as ex``: the exchange, and its events emitted after. A
    class rather than ``asynccontextmanager``: every market message of a backtest takes a turn,
    and the generator machinery cost more than the turn itself."""

    __slots__ = ("at", "cause_id", "correlation_id", "ex", "uow")

    def __init__(self, ex: Exchange, uow: UnitOfWork, cause_id: uuid.UUID,
                 correlation_id: uuid.UUID, at: datetime) -> None:
        self.ex, self.uow, self.cause_id, self.correlation_id, self.at = \
            ex, uow, cause_id, correlation_id, at

    async def __aenter__(self) -> Exchange:
        return self.ex

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        ex = self.ex
        events = ex.drain()
        if kind is not None:
            return
        if events:
            for message in messages(events, ex, self.cause_id, self.correlation_id, self.at):
                self.uow.emit(message)
        # what the store would write; memory is the store here
        ex.dirty_orders.clear()
        ex.dirty_accounts.clear()
        ex.dirty_markets.clear()
