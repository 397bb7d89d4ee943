"""In-process collaborators the handlers share: the mark book and the live-update hub."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from robson_contracts import PositionSide
from robson_kit.clock import Clock, FollowingClock, WallClock
from robson_kit.uow import UnitOfWork

from robson_position.adapters.active_index import ActiveIndex
from robson_position.adapters.guard_index import GuardIndex
from robson_position.adapters.mirror import Mirror
from robson_position.adapters.settings_cache import SettingsCache
from robson_position.adapters.venue_rules import VenueRulesBook
from robson_position.domain.atr import AtrBook
from robson_position.domain.markbook import Mark, MarkBook
from robson_position.domain.position import Position
from robson_position.handlers.waiting import DecisionWait
from robson_position.views import position_view

_TRACKED = "position.tracked"
"""``session.info`` key: (the unit of work, the positions it tracks after commit)."""


class Hub:
    """Fan-out of position snapshots to SSE subscribers (bounded queues; slow readers drop)."""

    def __init__(self) -> None:
        self.subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self.subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.subscribers.discard(queue)

    def publish(self, snapshot: dict[str, Any]) -> None:
        for queue in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(snapshot)


class Runtime:
    def __init__(self, clock: Clock | None = None, decision_wait_seconds: float = 0.0,
                 mirror: bool = True) -> None:
        """``decision_wait_seconds``: see ``waiting.py`` (0, as in a backtest, whose bus
        delivers in publication order: a candle reaches position before the decision on it).
        ``mirror=False``: no in-memory copy of committed states (the backtest's repository is
        in memory already; the copy would only cost a dump per write)."""
        self.book = MarkBook()
        self.atr = AtrBook()
        self.hub = Hub()
        self.settings = SettingsCache()
        self.active = ActiveIndex()
        self.guards = GuardIndex()
        """What the stop watchdog guards (``adapters/guard_index.py``)."""
        self.mirror = Mirror(enabled=mirror)
        self.clock: Clock = clock or WallClock()
        self.market_clock = FollowingClock(self.clock)
        """What operators' commands are stamped with: the market's time, not the wall's."""
        self.decision_wait = DecisionWait(decision_wait_seconds)
        self.last_resync: Any = None
        """The latest ResyncReport (handlers/resync.py), shown by GET /resync/last."""
        self.venue_rules = VenueRulesBook()
        """The newest SymbolRules per (venue, symbol) (``adapters/venue_rules.py``)."""

    def equip(self, position: Position) -> Position:
        """``position`` with its venue's lot rules for its symbol (None while none were told),
        by which the domain sizes what it sends, and the symbol's latest tick: every handler
        that may place protection or a partial close calls this first."""
        s = position.s
        position.rules = self.venue_rules.lot(s.venue, s.symbol)
        position.market_price = self.book.prices.get(s.symbol)
        return position

    def track(self, position: Position) -> None:
        """Mirror a committed position into the mark book and tell live subscribers."""
        s = position.s
        self.active.track(s)
        self.guards.track(s)
        self.mirror.put(s)
        if s.holds and s.entry_price is not None:
            mark = Mark(s.position_id, s.side is PositionSide.LONG, s.entry_price, s.remaining,
                        s.best_price, s.worst_price)
            mark.last = s.last_price or s.entry_price  # a price already in the stored marks
            self.book.put(s.symbol, mark)
        else:
            self.book.drop(s.symbol, s.position_id)
        if self.hub.subscribers:  # a view per change costs more than the change itself
            self.hub.publish(position_view(position, self.book, self.clock.now()))

    def after_commit(self, uow: UnitOfWork, position: Position) -> None:
        """Track ``position`` once ``uow``'s transaction commits. A position saved again in the
        same transaction (a batch of its candles or order events; the kit gives each message a
        unit of work of its own, all on the batch's session) is tracked once, in its last
        state: what each earlier tracking would have left is overwritten by it anyway."""
        pending: dict[str, Position] | None = uow.session.info.get(_TRACKED)
        if pending is None:
            pending = self._track_after_commit(uow)
        pending[position.s.position_id] = position

    def _track_after_commit(self, uow: UnitOfWork) -> dict[str, Position]:
        info = uow.session.info
        pending: dict[str, Position] = {}
        info[_TRACKED] = pending

        def done() -> None:
            info.pop(_TRACKED, None)
            for tracked in pending.values():
                self.track(tracked)

        uow.after_commit(done)
        return pending
