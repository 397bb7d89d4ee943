"""Re-sync of every active position with its venue: at start-up (in the background, retried
while a venue is unreachable) and on request (``POST /resync``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from robson_contracts import derive_id
from robson_kit import logs
from robson_kit.errors import ConflictError
from robson_kit.service import Service
from robson_kit.uow import UnitOfWork

from robson_position.adapters.repository import audit_of, positions_of
from robson_position.adapters.venues import Venues, VenueUnavailable
from robson_position.deps import PositionService
from robson_position.domain.position import Position
from robson_position.domain.resync import Finding, catch_up
from robson_position.domain.venueview import VenueView
from robson_position.handlers.commands import emit_all
from robson_position.handlers.runtime import Runtime

log = logs.get_logger(__name__)
CONFLICT_RETRIES = 5


@dataclass
class ResyncReport:
    trigger: str
    started_at: datetime
    finished_at: datetime | None = None
    attempts: int = 0
    positions_checked: int = 0
    positions_changed: int = 0
    findings: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"trigger": self.trigger, "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "complete": self.finished_at is not None and not self.errors,
                "attempts": self.attempts, "positions_checked": self.positions_checked,
                "positions_changed": self.positions_changed, "findings": self.findings,
                "errors": self.errors}


async def resync_all(service: Service, rt: Runtime, venues: Venues, trigger: str,
                     attempts: int = 1, retry_seconds: float = 0.0) -> ResyncReport:
    report = ResyncReport(trigger, rt.clock.now())
    rt.last_resync = report
    pending: set[str] | None = None
    while report.attempts < attempts:
        report.attempts += 1
        report.errors = []
        pending = await _pass(service, rt, venues, report, pending)
        if not pending:
            break
        await asyncio.sleep(retry_seconds)
    report.finished_at = rt.clock.now()
    log.info("position.resync", trigger=trigger, attempts=report.attempts,
             checked=report.positions_checked, changed=report.positions_changed,
             findings=len(report.findings), errors=report.errors)
    return report


async def _pass(service: Service, rt: Runtime, venues: Venues, report: ResyncReport,
                only: set[str] | None) -> set[str]:
    """One round over the active positions (or ``only`` those); returns the ids to retry."""
    async with service.uow() as uow:
        active = await positions_of(uow.session).active()
    failed: set[str] = set()
    for position in active:
        pid = position.s.position_id
        if only is not None and pid not in only:
            continue
        try:
            findings = await _sync_one(service, rt, venues, position)
        except (VenueUnavailable, ConflictError) as exc:
            failed.add(pid)
            report.errors.append({"position_id": pid, "venue": position.s.venue.value, "error": str(exc)})
            continue
        report.positions_checked += 1
        report.positions_changed += any(f.applied for f in findings)
        for f in findings:
            log.warning("position.resync_finding", position_id=pid, kind=f.kind, order_id=f.order_id,
                        detail=f.detail, applied=f.applied)
            report.findings.append({"position_id": pid, "kind": f.kind, "order_id": f.order_id,
                                    "fill_id": f.fill.fill_id if f.fill else None,
                                    "detail": f.detail, "applied": f.applied})
    return failed


async def _sync_one(service: Service, rt: Runtime, venues: Venues, position: Position) -> list[Finding]:
    """The venue is read after the position, and applied only to that version: a view older
    than what the bus path already applied would report orders as missing that are not."""
    pid = position.s.position_id
    for _ in range(CONFLICT_RETRIES):
        view = await venues.view(position.s)
        try:
            async with service.uow() as uow:
                return await resync_position(uow, rt, pid, view, position.s.version)
        except ConflictError:  # the bus path changed it meanwhile: read both again
            async with service.uow() as uow:
                reread = await positions_of(uow.session).get(pid)
            if reread is None:
                return []
            position = reread
    raise ConflictError(f"position {pid} kept changing while being re-synced")


async def resync_position(uow: UnitOfWork, rt: Runtime, position_id: str, view: VenueView,
                          expected_version: int | None = None) -> list[Finding]:
    repo = positions_of(uow.session)
    position = await repo.get(position_id)
    if position is None:
        return []
    if expected_version is not None and position.s.version != expected_version:
        raise ConflictError(f"position {position_id} changed since the venue was read")
    at = rt.market_clock.now()  # in a replay, the replay's time (see FollowingClock)
    findings = catch_up(rt.equip(position), view, at)
    for f in findings:
        if f.fill is not None and f.order_id is not None:
            tracked = position.s.orders.get(f.order_id)
            kind = tracked.kind.value if tracked else "EXIT"
            if not await repo.record_fill(position_id, f.order_id, kind, f.fill):
                raise ConflictError(f"fill {f.fill.fill_id} was counted meanwhile")
    if any(f.applied for f in findings):
        await repo.save(position)
        rt.after_commit(uow, position)
    audit = audit_of(uow.session)
    for f in findings:
        cause = f.event.message_id if f.event else derive_id("resync-note", position_id, f.kind, f.order_id, at)
        await audit.record(position_id=position_id, message_id=str(cause), at=at, triggered_by="RESYNC",
                           kind=f.kind, request={"order_id": f.order_id, "detail": f.detail,
                                                 "fill_id": f.fill.fill_id if f.fill else None},
                           verdict="APPLIED" if f.applied else "NOTED", violations=[], reason=f.detail,
                           outcome=position.s.status.value)
    emit_all(uow, position)
    return findings


async def resync_on_start(service: PositionService) -> None:
    """Background hook: consumers already run, so the bus path and this one may race; both
    dedupe fills by id and the position's version makes the loser retry on the new state."""
    s = service.settings
    if not getattr(s, "resync_on_start", True):
        return
    await resync_all(service, service.deps.runtime, service.deps.venues, "START",
                     attempts=max(1, s.resync_attempts), retry_seconds=s.resync_retry_seconds)
