"""The in-memory exchange shared by consumers and routes, kept in step with the database.

Every change runs in a *turn*: one at a time, inside the caller's transaction. The next turn
waits until the previous transaction has committed; if it failed (handler error, rollback,
no commit within the timeout) the exchange is reloaded from the database first, so memory
never holds a change the database does not.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from robson_kit import logs
from robson_kit.uow import UnitOfWork

from robson_paper.adapters import store
from robson_paper.domain import EngineConfig, Exchange
from robson_paper.domain.rules import SymbolRules
from robson_paper.handlers.outgoing import messages

log = logs.get_logger(__name__)


class Runtime:
    def __init__(self, config: EngineConfig, rules: dict[str, SymbolRules],
                 turn_timeout: float = 10.0) -> None:
        self.config = config
        self.rules = rules
        self.turn_timeout = turn_timeout
        self.exchange: Exchange | None = None
        self._lock = asyncio.Lock()
        self._previous: asyncio.Event | None = None
        self._consistent = False

    async def load(self, uow: UnitOfWork) -> Exchange:
        self.exchange = await store.load(uow.session, self.config, self.rules)
        self._consistent = True
        return self.exchange

    @asynccontextmanager
    async def turn(self, uow: UnitOfWork, cause_id: uuid.UUID, correlation_id: uuid.UUID,
                   at: datetime) -> AsyncIterator[Exchange]:
        """Yield the exchange; on exit persist its changes and emit its events into ``uow``."""
        async with self._lock:
            await self._settle_previous()
            if not self._consistent or self.exchange is None:
                log.warning("paper.reload", reason="previous turn did not commit")
                await self.load(uow)
            ex = self.exchange
            assert ex is not None
            done = asyncio.Event()
            self._previous, self._consistent = done, False

            def committed() -> None:
                self._consistent = True
                done.set()

            try:
                yield ex
                events = ex.drain()
                await store.flush(uow.session, ex, events)
                for message in messages(events, ex, cause_id, correlation_id, at):
                    uow.emit(message)
            except BaseException:
                ex.drain()
                done.set()
                raise
            uow.after_commit(committed)

    async def _settle_previous(self) -> None:
        previous = self._previous
        if previous is None or previous.is_set():
            return
        try:
            await asyncio.wait_for(previous.wait(), self.turn_timeout)
        except TimeoutError:
            self._consistent = False
