"""Model calls asked ahead whose decisions are not stored yet (``handlers/ahead.py``).

The daily budget is counted from stored decisions (and reviews that stored none), which is what
the handler sees inside its transaction. The ask-ahead runs before that transaction, for every
message of a fetched batch in turn and for both consumers (signals and candles): the calls it
made for decisions not stored yet are paid but not counted anywhere the budget looks. They are
kept here, per trader and day, from the ask until the decision's transaction commits, and the
ask-ahead counts them on top of the stored ones, so a backlog, two positions of one trader on
one candle, an entry beside a review, or a decision asked again (its inputs changed before its
handler ran) never pay a call the budget does not allow. An ask found recorded already (a
redelivery) counts too: at the budget's edge that errs on the side of not asking.

In memory, like the waits: lost on restart (the asks of uncommitted decisions are then made
again or found recorded; the stored count is right again once they commit).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

REMEMBERED = 1_000
"""Uncommitted decisions remembered per trader (oldest forgotten first)."""


@dataclass
class AskedAhead:
    _open: dict[str, OrderedDict[str, tuple[datetime, int]]] = field(default_factory=dict)
    """trader → decision id → (the budget day it counts in, its calls asked ahead)"""

    def count(self, trader_id: str, day: datetime) -> int:
        """The trader's calls of ``day`` asked ahead for decisions not stored yet."""
        asked = self._open.get(trader_id)
        if not asked:
            return 0
        return sum(calls for on, calls in asked.values() if on == day)

    def reserve(self, trader_id: str, decision_id: str, day: datetime) -> None:
        """One more call of this decision, counted from now (before it is made)."""
        asked = self._open.setdefault(trader_id, OrderedDict())
        _, calls = asked.pop(decision_id, (day, 0))
        asked[decision_id] = (day, calls + 1)
        while len(asked) > REMEMBERED:
            asked.popitem(last=False)

    def release(self, trader_id: str, decision_id: str) -> None:
        """The call reserved last is not made after all."""
        asked = self._open.get(trader_id)
        if asked is None or decision_id not in asked:
            return
        day, calls = asked.pop(decision_id)
        if calls > 1:
            asked[decision_id] = (day, calls - 1)

    def stored(self, trader_id: str, decision_id: str) -> None:
        """The decision's transaction committed: its calls are in the stored count now."""
        asked = self._open.get(trader_id)
        if asked is not None:
            asked.pop(decision_id, None)


class OneAtATime:
    """Asks of one decision made one after another, those of different decisions at once."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        """decision id → (its lock, the asks holding or waiting for it)"""

    @asynccontextmanager
    async def one(self, decision_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(decision_id) or (asyncio.Lock(), 0)
        self._locks[decision_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[decision_id]
            if users == 1:
                del self._locks[decision_id]
            else:
                self._locks[decision_id] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
