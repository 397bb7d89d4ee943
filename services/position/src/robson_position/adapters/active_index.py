"""Which (trader, symbol, side) hold an active position, mirrored in memory after each commit.

Only the entry consumer (one batch at a time, its after-commit work done before the next
fetch) creates positions, and an active position only ever becomes inactive (CLOSED, REJECTED,
CANCELED are terminal). So "none here" is exact once the current transaction's own additions
are counted, and the entry check needs no read; "one here" may be stale (a close committed but
not mirrored yet), so that answer is confirmed in the database.
"""

from __future__ import annotations

from collections import Counter
from typing import TypeVar

from robson_kit.uow import UnitOfWork

from robson_position.adapters.repository import positions_of
from robson_position.domain.state import ACTIVE_STATUSES, PositionState

Key = tuple[str, str, str]
_ADDED = "robson_position.active_index.added"
T = TypeVar("T")


def key_of(s: PositionState) -> Key:
    return s.trader_id, s.symbol, s.side.value


class ActiveIndex:
    def __init__(self) -> None:
        self._keys: dict[str, Key] = {}
        self._count: Counter[Key] = Counter()
        self._on: Counter[str] = Counter()
        """Active positions per symbol (``any_on``: every candle asks)."""

    def track(self, s: PositionState) -> None:
        """Mirror a committed state (also at start-up, for every active position)."""
        key = key_of(s) if s.status in ACTIVE_STATUSES else None
        was = self._keys.get(s.position_id)
        if was == key:
            return  # most commits (a candle's marks, an order event) move no key
        if was is not None:
            del self._keys[s.position_id]
            _count_off(self._count, was)
            _count_off(self._on, was[1])
        if key is not None:
            self._keys[s.position_id] = key
            self._count[key] += 1
            self._on[key[1]] += 1

    @property
    def empty(self) -> bool:
        """No committed active position at all (exact, as ``any_on``)."""
        return not self._keys

    def any_on(self, symbol: str) -> bool:
        """Whether any committed active position is on ``symbol`` (exact for "none", as
        ``holds``: a position being created now is not committed yet either)."""
        return symbol in self._on

    def added(self, uow: UnitOfWork, s: PositionState) -> None:
        """A position this transaction created (mirrored by ``track`` after commit)."""
        uow.session.info.setdefault(_ADDED, set()).add(key_of(s))

    async def holds(self, uow: UnitOfWork, key: Key) -> bool:
        if key in uow.session.info.get(_ADDED, ()):
            return True
        if key not in self._count:
            return False
        return await positions_of(uow.session).holds(*key)


def _count_off(counter: Counter[T], key: T) -> None:
    """One fewer of ``key``; gone at zero (``in`` then says none)."""
    counter[key] -= 1
    if not counter[key]:
        del counter[key]
