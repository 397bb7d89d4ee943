"""The positions the stop watchdog guards and the ids of their stops, kept in memory after each
commit (``Runtime.track``, as the active index and the mirror are; rebuilt from the table at
start-up). A watchdog round over protected positions then reads nothing from Postgres: it
compares these ids with each account's live orders at the venue, and reads from the database
only the positions none of whose stops is among them.

An entry behind the database (a commit whose after-commit work has not run yet) only sends its
position to that slower path, which reads the committed state and puts it here.
"""

from __future__ import annotations

from dataclasses import dataclass

from robson_contracts import PositionStatus, TradingMode

from robson_position.domain.state import OrderKind, PositionState


@dataclass(frozen=True)
class Guarded:
    position_id: str
    venue: TradingMode
    account_id: str
    version: int
    stop_ids: frozenset[str]
    """Every stop the position has placed, whatever it believes of their state: any of them
    live at the venue protects it (a stop being replaced protects until the venue takes the
    replacement)."""


def is_guarded(s: PositionState) -> bool:
    """The watchdog guards a position that holds, is not being closed, and has a stop price."""
    return s.holds and s.status is not PositionStatus.CLOSING and s.stop_loss is not None


class GuardIndex:
    def __init__(self) -> None:
        self._by_id: dict[str, Guarded] = {}

    def track(self, s: PositionState) -> None:
        """A committed state (one older than the entry held is ignored)."""
        held = self._by_id.get(s.position_id)
        if held is not None and held.version > s.version:
            return
        if not is_guarded(s):
            self._by_id.pop(s.position_id, None)
            return
        stops = frozenset(o.order_id for o in s.orders.values() if o.kind is OrderKind.STOP)
        self._by_id[s.position_id] = Guarded(s.position_id, s.venue, s.account_id, s.version, stops)

    def all(self) -> list[Guarded]:
        return list(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)
