"""HTTP API of the venue re-sync: the last report, and a re-sync on demand."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from robson_kit.auth import AdminPrincipal, Principal

from robson_position.entrypoints.api import SvcDep
from robson_position.handlers.resync import resync_all

resync_router = APIRouter(tags=["resync"])


def _every_account(who: Principal) -> None:
    """A re-sync covers every account's positions (ids, orders, fills in its report)."""
    if not who.all_accounts:
        raise HTTPException(404, "the venue re-sync: an all-accounts token only")


@resync_router.get("/resync/last")
async def last_resync(service: SvcDep, who: AdminPrincipal) -> dict[str, Any]:
    _every_account(who)
    report = service.deps.runtime.last_resync
    if report is None:
        raise HTTPException(404, "no re-sync has run yet")
    return report.as_dict()


@resync_router.post("/resync")
async def resync_now(service: SvcDep, who: AdminPrincipal) -> dict[str, Any]:
    """Compare every active position with its venue now and catch up; returns the report."""
    _every_account(who)
    report = await resync_all(service, service.deps.runtime, service.deps.venues, "MANUAL")
    return report.as_dict()
