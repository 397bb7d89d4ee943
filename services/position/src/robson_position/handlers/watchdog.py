"""The stop watchdog: every holding position must have a working stop at its venue. One found
without is re-protected at once (its stop placed again); if it still has none after the grace
period, it is closed at market. Both are audited and published (``PositionError`` with
``STOP_MISSING`` / ``STOP_NOT_RESTORED``), so a stop lost at the venue does not stay lost
until a restart or ``POST /resync``."""

from __future__ import annotations

import asyncio
from datetime import datetime

from robson_contracts import (
    ExitReason,
    PositionError,
    PositionStatus,
    TradingMode,
    TriggeredBy,
    derive_id,
)
from robson_kit import logs
from robson_kit.errors import ConflictError
from robson_kit.service import Service

from robson_position.adapters.guard_index import Guarded, is_guarded
from robson_position.adapters.repository import Audit, Positions
from robson_position.adapters.venues import Venues, VenueUnavailable
from robson_position.deps import PositionService
from robson_position.domain.management import reprotect
from robson_position.domain.position import Position
from robson_position.domain.state import OrderKind
from robson_position.domain.venueview import VenueOrder, VenueView
from robson_position.handlers.commands import close, emit_all
from robson_position.handlers.resync import resync_position
from robson_position.handlers.runtime import Runtime

log = logs.get_logger(__name__)


def has_working_stop(position: Position, view: VenueView) -> bool:
    """A stop of this position works at the venue: its live one, or one it has replaced (or
    cancelled) while the venue has not taken that command yet — until then the old one protects."""
    return _stop_among(position, _live_ids(view.orders))


def stop_on_its_way(position: Position, view: VenueView) -> bool:
    """A stop the position placed (or replaced) that the venue has not heard of yet: its
    command may still be in the stream, so it is not missing until the grace has passed."""
    known = {vo.order_id for vo in view.orders}
    return any(o.live and o.kind is OrderKind.STOP and not o.accepted and o.order_id not in known
               for o in position.s.orders.values())


def _stop_among(position: Position, live_order_ids: set[str]) -> bool:
    """Any of the position's stops (whatever it believes their state) is live at the venue."""
    return any(o.kind is OrderKind.STOP and o.order_id in live_order_ids
               for o in position.s.orders.values())


def _live_ids(orders: list[VenueOrder]) -> set[str]:
    return {o.order_id for o in orders if o.live}


async def _working_by_account(venues: Venues, guarded: list[Guarded]
                              ) -> dict[tuple[TradingMode, str], set[str] | None]:
    """The live order ids of each account holding a position, one call per venue (paper's one
    paged read of every account's live orders, execution's a read per account): a round's
    reads do not grow with the positions, nor at paper with the accounts. An account whose
    answer may be incomplete maps to None: its positions are read one by one, as are those
    whose stop is not among the live orders (``has_working_stop`` on the full view decides
    those). An account the venue cannot be read for now is left out: nothing to judge this
    round."""
    accounts: dict[TradingMode, set[str]] = {}
    for g in guarded:
        accounts.setdefault(g.venue, set()).add(g.account_id)
    working: dict[tuple[TradingMode, str], set[str] | None] = {}
    for venue, account_ids in sorted(accounts.items()):
        try:
            found = await venues.live_order_ids(venue, account_ids)
        except VenueUnavailable:
            continue
        working.update({(venue, a): ids for a, ids in found.items() if a in account_ids})
    return working


class StopWatchdog:
    def __init__(self, grace_seconds: float) -> None:
        self.grace = grace_seconds
        self.missing_since: dict[str, datetime] = {}
        self.on_its_way_since: dict[str, datetime] = {}

    async def check_all(self, service: Service, rt: Runtime, venues: Venues) -> None:
        """One round. The positions guarded and their stops' ids come from memory
        (``rt.guards``, current after every commit): one whose stop is among its account's
        live orders costs no statement; only the others are read from the database (in one
        statement) and then from the venue, to be judged."""
        guarded = rt.guards.all()
        if not service.bus.is_connected or not guarded:
            # Disconnected: nothing placed now would reach the venue, and nothing the venue did
            # reaches us: judged afresh once the bus is back (an outage must not close
            # positions). No position to guard (the index is exact for "none"): nothing to read.
            self.missing_since.clear()
            self.on_its_way_since.clear()
            return
        working = await _working_by_account(venues, guarded)
        suspects: list[str] = []
        for g in guarded:
            if (g.venue, g.account_id) not in working:
                continue  # its venue cannot be read now: nothing to judge
            live = working[(g.venue, g.account_id)]
            if live is not None and not live.isdisjoint(g.stop_ids):
                self._protected(g.position_id)
            else:
                suspects.append(g.position_id)
        if suspects:
            async with service.uow() as uow:
                loaded = await Positions(uow.session).get_many(suspects)
            for position in loaded:
                rt.guards.track(position.s)  # the index may be a commit behind the table
                if is_guarded(position.s):
                    await self._judge(service, rt, venues, position)
        watched = {g.position_id for g in rt.guards.all()}
        for pid in set(self.missing_since) - watched:
            del self.missing_since[pid]
        for pid in set(self.on_its_way_since) - watched:
            del self.on_its_way_since[pid]

    def _protected(self, pid: str) -> None:
        self.missing_since.pop(pid, None)
        self.on_its_way_since.pop(pid, None)

    async def _judge(self, service: Service, rt: Runtime, venues: Venues, position: Position) -> None:
        """No stop of ``position`` among its account's live orders (or that answer was
        incomplete): its full record at the venue decides."""
        s = position.s
        try:
            view = await venues.view(s)
        except VenueUnavailable:
            return  # nothing to judge: the venue cannot be read now
        if has_working_stop(position, view):
            self._protected(s.position_id)
            return
        if s.position_id not in self.missing_since and stop_on_its_way(position, view):
            now = rt.clock.now()
            if (now - self.on_its_way_since.setdefault(s.position_id, now)).total_seconds() < self.grace:
                return
        self.on_its_way_since.pop(s.position_id, None)
        try:
            await self._act(service, rt, s.position_id, view)
        except ConflictError:
            return  # the bus path changed it meanwhile: judged again next round

    async def _act(self, service: Service, rt: Runtime, pid: str, view: VenueView) -> None:
        now = rt.clock.now()  # the grace is wall time; what is recorded carries market time
        at = rt.market_clock.now()
        first = self.missing_since.get(pid)
        async with service.uow() as uow:
            position = await Positions(uow.session).get(pid)
            if position is None or not position.s.holds:
                return
            if first is None:
                self.missing_since[pid] = now
                await resync_position(uow, rt, pid, view, position.s.version)
                position = await Positions(uow.session).get(pid) or position
                if not any(o.live and o.kind is OrderKind.STOP for o in position.s.orders.values()) \
                        or not has_working_stop(position, view):
                    await _reprotect(uow, rt, position, at)
            elif (now - first).total_seconds() >= self.grace:
                cause = _report(uow, position, at, "STOP_NOT_RESTORED",
                                f"no working stop at the venue for {int((now - first).total_seconds())}s "
                                f"(grace {self.grace:g}s): closed at market")
                await close(uow, rt, position, ExitReason.RISK_LIMIT, None, TriggeredBy.RULE_ENGINE,
                            cause, at, note=cause.message)
                del self.missing_since[pid]


async def _reprotect(uow, rt: Runtime, position: Position, at: datetime) -> None:
    s = position.s
    if s.status is PositionStatus.CLOSING:
        return
    cause = _report(uow, position, at, "STOP_MISSING",
                    f"no working stop at the venue: stop {s.stop_loss} placed again for {s.remaining}")
    s.order_generation += 1
    reprotect(rt.equip(position), s.remaining, cause, at)
    await Positions(uow.session).save(position)
    rt.after_commit(uow, position)
    await Audit(uow.session).record(
        position_id=s.position_id, message_id=str(cause.message_id), at=at, triggered_by="WATCHDOG",
        kind="REPROTECT", request={"stop_loss": str(s.stop_loss), "quantity": str(s.remaining)},
        verdict="APPLIED", violations=[], reason=cause.message, outcome=s.status.value)
    emit_all(uow, position)


def _report(uow, position: Position, at: datetime, code: str, message: str) -> PositionError:
    s = position.s
    event = PositionError(message_id=derive_id("stop-watchdog", s.position_id, code, s.version),
                          occurred_at=at, account_id=s.account_id, position_id=s.position_id,
                          reason_code=code, message=message)
    uow.emit(event)
    log.warning("position.stop_watchdog", position_id=s.position_id, code=code, detail=message)
    return event


def watchdog_loop(interval: float, grace: float):
    watchdog = StopWatchdog(grace)

    async def stop_watchdog(service: PositionService) -> None:
        while True:
            await asyncio.sleep(interval)
            await watchdog.check_all(service, service.deps.runtime, service.deps.venues)

    return stop_watchdog
