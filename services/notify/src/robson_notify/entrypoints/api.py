"""HTTP API of notify: routes translate HTTP into a command or a query, nothing more."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from robson_kit.app import get_service
from robson_kit.auth import AdminPrincipal, ReadPrincipal

from robson_notify.adapters import store
from robson_notify.deps import NotifyService
from robson_notify.domain.config import NotificationsConfig
from robson_notify.domain.model import DeliveryStatus
from robson_notify.handlers import admin
from robson_notify.runtime import ConfigRefused, Runtime

router = APIRouter(tags=["notify"])
ServiceDep = Annotated[NotifyService, Depends(get_service)]


def get_runtime(service: ServiceDep) -> Runtime:
    return service.deps


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _masked(cfg: NotificationsConfig) -> dict[str, Any]:
    """The config as applied, without inline URLs (they hold tokens)."""
    data = cfg.model_dump(mode="json")
    for ch in data["channels"].values():
        if ch.get("url"):
            ch["url"] = ch["url"].split("://", 1)[0] + "://…"
    return data


@router.get("/config")
async def get_config(runtime: RuntimeDep) -> dict[str, Any]:
    return _masked(runtime.config)


@router.put("/config")
async def put_config(body: NotificationsConfig, service: ServiceDep,
                     runtime: RuntimeDep, who: AdminPrincipal) -> dict[str, Any]:
    if not who.all_accounts:  # the routes decide where every account's notices go
        raise HTTPException(404, "the notifications config: an all-accounts token only")
    try:
        changed = await admin.apply(service, runtime, body)
    except ConfigRefused as exc:
        raise HTTPException(422, [{"field": f, "message": m} for f, m in exc.problems]) from None
    return {"changed": changed, "config": _masked(runtime.config)}


@router.get("/channels")
async def list_channels(runtime: RuntimeDep) -> list[dict[str, Any]]:
    return [{"name": name, "type": type(t).__name__.removesuffix("Transport").lower(),
             "signed": getattr(t, "secret", None) is not None,
             "rate_per_minute": runtime.config.channels[name].rate_per_minute}
            for name, t in sorted(runtime.channels.items())]


@router.post("/channels/{name}/test")
async def test_channel(name: str, service: ServiceDep, runtime: RuntimeDep) -> dict[str, Any]:
    try:
        return await admin.send_test(service, runtime, name)
    except admin.UnknownChannel as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/deliveries")
async def list_deliveries(
    service: ServiceDep,
    who: ReadPrincipal,
    failed: bool = False,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    channel: str | None = None,
    account_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    async with service.uow() as uow:
        return await store.listing(uow.session, failed, status.value if status else None,
                                   channel, who.account_filter(account_id), limit)


@router.get("/deliveries/{delivery_id}")
async def get_delivery(delivery_id: uuid.UUID, service: ServiceDep, who: ReadPrincipal) -> dict[str, Any]:
    async with service.uow() as uow:
        found = await store.one(uow.session, delivery_id)
    if found is None or not who.can_access(found["account_id"]):
        raise HTTPException(404, f"no delivery {delivery_id}")
    return found
