"""VenueStatusChanged: a symbol's circuit breaker opens or closes (one per transition; the
stored breaker row is the previous state; told to every live account the breaker guards), or
an account's venue becomes unreachable / reachable again (``VenueHealth``, below).

The breaker is saved inside the executor's own transaction, which this code cannot reach, so
the events are written to the outbox on that same transaction (committed or rolled back with
the breaker row) and the outbox relay's sweep publishes them (within ``outbox_poll_seconds``).
Ids derive from the account, symbol, transition and the opening's time: a retried write or a
replay publishes nothing twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from robson_contracts import derive_id
from robson_contracts.alerts import VenueStatus, VenueStatusChanged
from robson_kit.clock import WallClock
from robson_kit.uow import UnitOfWork, flush_outboxes
from sqlalchemy.ext.asyncio import AsyncSession

VENUE = "binance"
OPEN, CLOSED = "OPEN", "CLOSED"


def breaker_transition(before: Any, state: str, opened_at: datetime | None
                       ) -> tuple[VenueStatus, datetime] | None:
    """(status, the opening it belongs to) when the breaker crossed OPEN/CLOSED, else None."""
    was = before.state if before is not None else CLOSED
    if state == OPEN and was != OPEN and opened_at is not None:
        return VenueStatus.CIRCUIT_OPEN, opened_at
    if state == CLOSED and was == OPEN and before.opened_at is not None:
        return VenueStatus.CIRCUIT_CLOSED, before.opened_at
    return None


def breaker_messages(accounts: list[str], symbol: str, status: VenueStatus, episode: datetime,
                     now: datetime, detail: str) -> list[VenueStatusChanged]:
    return [
        VenueStatusChanged(
            message_id=derive_id("venue-status", account_id, symbol, status.value,
                                 episode.isoformat()),
            occurred_at=now, account_id=account_id, venue=VENUE, status=status, symbol=symbol,
            detail=detail[:500],
        )
        for account_id in accounts
    ]


async def announce_breaker(s: AsyncSession, symbol: str, before: Any, now: datetime,
                           values: dict[str, Any], live_accounts: list[str]) -> int:
    """Write the transition's events to the outbox in ``s``'s transaction; returns how many."""
    found = breaker_transition(before, values.get("state", ""), values.get("opened_at"))
    if found is None or not live_accounts:
        return 0
    status, episode = found
    detail = values.get("last_error", "") if status is VenueStatus.CIRCUIT_OPEN else ""
    uow = UnitOfWork(s, WallClock())
    for message in breaker_messages(live_accounts, symbol, status, episode, now, detail):
        uow.emit(message)
    return await flush_outboxes(s, [uow])


class VenueHealth:
    """Per account: is the venue answering? Judged by reconciliation's first call (start-up,
    schedule, on demand); only a change is told. An outage is keyed by when it was first seen
    (in memory: after a restart an ongoing outage is told again, a healthy venue is not)."""

    def __init__(self) -> None:
        self._down_since: dict[str, datetime | None] = {}

    def observe(self, account_id: str, reachable: bool, now: datetime,
                detail: str = "") -> VenueStatusChanged | None:
        known = account_id in self._down_since
        since = self._down_since.get(account_id)
        if reachable:
            self._down_since[account_id] = None
            if since is None:
                return None
            status, episode = VenueStatus.REACHABLE, since
        else:
            if known and since is not None:
                return None
            self._down_since[account_id] = episode = now
            status = VenueStatus.UNREACHABLE
        return VenueStatusChanged(
            message_id=derive_id("venue-status", account_id, status.value, episode.isoformat()),
            occurred_at=now, account_id=account_id, venue=VENUE, status=status,
            detail=detail[:500] if not reachable else "",
        )


_HEALTH: WeakKeyDictionary[Any, VenueHealth] = WeakKeyDictionary()


def health_of(executor: Any) -> VenueHealth:
    """The executor's venue health (kept beside it: ``runtime/executor.py`` is not ours)."""
    found = _HEALTH.get(executor)
    if found is None:
        found = _HEALTH[executor] = VenueHealth()
    return found
