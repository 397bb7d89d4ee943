"""Model calls asked ahead whose decisions are not stored yet (``handlers/ahead.py``).

The daily budget is counted from stored decisions (and reviews that stored none), which is what
the handler sees inside its transaction. The ask-ahead runs before that transaction, for every
message of a fetched batch in turn and for both consumers (signals and candles): the calls it
made for decisions not stored yet are paid but not counted anywhere the budget looks. They are
kept here, per trader and day, from the ask until the decision's transaction commits, and the
ask-ahead counts them on top of the stored ones, so a backlog, two positions of one trader on
one candle, or an entry beside a review never pay a call the budget does not allow.

In memory, like the waits: lost on restart (the asks of uncommitted decisions are then made
again or found recorded; the stored count is right again once they commit).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

REMEMBERED = 1_000
"""Uncommitted asks remembered per trader (oldest forgotten first)."""


@dataclass
class AskedAhead:
    _open: dict[str, OrderedDict[str, datetime]] = field(default_factory=dict)
    """trader → decision id → the budget day it counts in"""

    def count(self, trader_id: str, day: datetime, but: str) -> int:
        """The trader's asks of ``day`` whose decisions are not stored, ``but`` this one's."""
        asked = self._open.get(trader_id)
        if not asked:
            return 0
        return sum(1 for decision_id, on in asked.items() if on == day and decision_id != but)

    def add(self, trader_id: str, decision_id: str, day: datetime) -> None:
        asked = self._open.setdefault(trader_id, OrderedDict())
        asked[decision_id] = day
        while len(asked) > REMEMBERED:
            asked.popitem(last=False)

    def stored(self, trader_id: str, decision_id: str) -> None:
        """The decision's transaction committed: its calls are in the stored count now."""
        asked = self._open.get(trader_id)
        if asked is not None:
            asked.pop(decision_id, None)
