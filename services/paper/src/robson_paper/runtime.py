"""The in-memory exchange shared by consumers and routes, kept in step with the database.

Every change runs in a *turn*, inside the caller's transaction. A consumer runs a fetched batch
of messages in one transaction, so the turns of that transaction follow each other at once; a
turn of another transaction waits until it has committed. Changes are written once per
transaction, just before it commits (``uow.before_commit``). If a transaction does not commit
(handler error, rollback, or no commit within the timeout) the next turn reloads the exchange
from the database first, so memory never holds a change the database does not.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal

from robson_kit import logs
from robson_kit.uow import UnitOfWork
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from robson_paper.adapters import store
from robson_paper.domain import EngineConfig, Exchange
from robson_paper.domain.events import Event
from robson_paper.domain.rules import SymbolRules
from robson_paper.handlers.outgoing import messages

log = logs.get_logger(__name__)
_FLUSH = "paper.flush"


class Runtime:
    def __init__(self, config: EngineConfig, rules: dict[str, SymbolRules],
                 turn_timeout: float = 10.0,
                 market_write_interval: timedelta = timedelta(0)) -> None:
        self.config = config
        self.rules = rules
        self.turn_timeout = turn_timeout
        self.market_write_interval = market_write_interval
        self._written_at: dict[str, datetime | None] = {}
        """Event time of each symbol's market state as last written."""
        self.exchange: Exchange | None = None
        self._lock = asyncio.Lock()
        self._owner: AsyncSession | None = None
        """The transaction whose turns are not committed yet (None: all committed)."""
        self._settled = asyncio.Event()
        self._settled.set()
        self._consistent = False
        self._unwritten: list[Event] = []
        """Events of the owner's turns whose fills are written before it commits."""
        self._awaited: dict[str, datetime] = {}
        """Symbols with a market message fetched for a transaction that has not committed yet
        (the latest such event time): their ticks are not applied in memory meanwhile."""

    async def load(self, uow: UnitOfWork) -> Exchange:
        self.exchange = await store.load(uow.session, self.config, self.rules)
        self._written_at = {s: m.last_time for s, m in self.exchange.markets.items()}
        self._unwritten = []
        self._consistent = True
        return self.exchange

    @asynccontextmanager
    async def turn(self, uow: UnitOfWork, cause_id: uuid.UUID, correlation_id: uuid.UUID,
                   at: datetime) -> AsyncIterator[Exchange]:
        """Yield the exchange; on exit emit its events into ``uow`` and have its changes
        written before ``uow``'s transaction commits."""
        await self._acquire(uow.session)
        try:
            if not self._consistent or self.exchange is None:
                log.warning("paper.reload", reason="previous transaction did not commit")
                await self.load(uow)
            ex = self.exchange
            assert ex is not None
            if self._owner is not uow.session:
                self._own(uow)
            try:
                yield ex
                events = ex.drain()
                self._unwritten += events
                for message in messages(events, ex, cause_id, correlation_id, at):
                    uow.emit(message)
            except BaseException:
                ex.drain()
                self._release(uow.session, consistent=False)
                raise
            uow.before_commit(_FLUSH, self._write)
        finally:
            self._lock.release()

    async def _write(self, uow: UnitOfWork) -> None:
        ex = self.exchange
        if ex is None:
            return
        events, self._unwritten = self._unwritten, []
        # A price that changed nothing else is written at most once per interval; whatever is
        # written takes every price moved only in memory since with it, so all symbols fall due
        # together (a transaction per interval for the whole market, not one per symbol).
        if (ex.dirty_orders or ex.dirty_accounts or events
                or any(self._market_due(ex, s) for s in ex.dirty_markets)):
            await store.flush(uow.session, ex, events, ex.dirty_markets)
            self._written_at.update((s, ex.markets[s].last_time) for s in ex.dirty_markets)
            ex.dirty_markets.clear()

    def apply_quiet_tick(self, symbol: str, price: Decimal, at: datetime, quantity: Decimal,
                         trade_id: str | None) -> bool:
        """A tick that can fill nothing (no order waits for the next price on its symbol, no
        resting order's level is reached) and whose
        price is not due to be stored only moves the market's last price: applied here, in
        memory, with no transaction (returns whether it was). Only while no transaction has
        uncommitted turns (the exchange is then what the database holds, plus prices not yet
        due). Recovery is the stored price's: at most ``market_write_interval`` of event time
        behind after a crash (or a reload), and the next tick moves it on."""
        ex = self.exchange
        if (ex is None or not self._consistent or self._owner is not None
                or self._lock.locked() or symbol not in ex.rules or symbol in self._awaited):
            return False
        if not ex.nothing_acts_within(symbol, price, price):
            return False  # something fills or triggers: a transaction
        state = ex.market(symbol)
        if state.seen(at):
            return True  # an older or repeated movement: the handler would do nothing either
        written = self._written_at.get(symbol)
        if written is None or at - written >= self.market_write_interval:
            return False  # due: stored in a transaction
        ex.on_tick(symbol, price, at, quantity, trade_id)
        return True

    def awaits(self, symbol: str, at: datetime) -> None:
        """A market message of ``symbol`` at ``at`` goes to a transaction: until one at or
        after ``at`` has committed (``settled``), the symbol's ticks are not applied in memory,
        so none overtakes it. Held on if that transaction fails: the symbol's ticks then go
        through transactions until one commits."""
        held = self._awaited.get(symbol)
        if held is None or at > held:
            self._awaited[symbol] = at

    def settled(self, symbol: str, at: datetime) -> None:
        held = self._awaited.get(symbol)
        if held is not None and at >= held:
            del self._awaited[symbol]

    def _market_due(self, ex: Exchange, symbol: str) -> bool:
        at, written = ex.markets[symbol].last_time, self._written_at.get(symbol)
        return at is None or written is None or at - written >= self.market_write_interval

    def _own(self, uow: UnitOfWork) -> None:
        """Make ``uow``'s transaction the owner until it ends. Its end is taken from the
        session's own events, which also see a rollback (``after_commit`` callbacks run only
        after a commit)."""
        session = uow.session
        self._owner, self._settled = session, asyncio.Event()
        sync = session.sync_session
        event.listen(sync, "after_commit", lambda *_: self._release(session, True), once=True)
        event.listen(sync, "after_rollback", lambda *_: self._release(session, False), once=True)

    def _release(self, session: AsyncSession | None, consistent: bool) -> None:
        """End ``session``'s ownership (None: whoever owns it, after a timeout)."""
        if self._owner is None or (session is not None and self._owner is not session):
            return
        self._owner, self._consistent = None, consistent
        self._settled.set()

    async def _acquire(self, session: AsyncSession) -> None:
        """Take the lock once no other transaction has uncommitted turns (or it timed out)."""
        while True:
            await self._lock.acquire()
            if self._owner is None or self._owner is session:
                return
            settled = self._settled
            self._lock.release()
            try:
                await asyncio.wait_for(settled.wait(), self.turn_timeout)
            except TimeoutError:
                if self._settled is settled:
                    log.warning("paper.turn_timeout", seconds=self.turn_timeout)
                    self._release(None, consistent=False)
