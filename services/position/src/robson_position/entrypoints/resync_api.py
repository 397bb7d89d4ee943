"""HTTP API of the venue re-sync: the last report, and a re-sync on demand."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from robson_kit.auth import AdminPrincipal

from robson_position.entrypoints.api import SvcDep
from robson_position.handlers.resync import resync_all

resync_router = APIRouter(tags=["resync"])


@resync_router.get("/resync/last")
async def last_resync(service: SvcDep, who: AdminPrincipal) -> dict[str, Any]:
    report = service.deps.runtime.last_resync
    if report is None:
        raise HTTPException(404, "no re-sync has run yet")
    return report.as_dict()


@resync_router.post("/resync")
async def resync_now(service: SvcDep, who: AdminPrincipal) -> dict[str, Any]:
    """Compare every active position with its venue now and catch up; returns the report."""
    report = await resync_all(service, service.deps.runtime, service.deps.venues, "MANUAL")
    return report.as_dict()
