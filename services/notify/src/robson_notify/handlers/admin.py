"""Commands from the API: apply a config, send a test message."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from robson_kit.service import Service

from robson_notify.adapters import store
from robson_notify.domain.config import NotificationsConfig
from robson_notify.domain.model import DeliveryStatus, Notice, Severity
from robson_notify.runtime import Runtime


async def load(service: Service, runtime: Runtime) -> None:
    async with service.uow() as uow:
        cfg = await store.load_config(uow.session)
    if cfg is not None:
        runtime.install(cfg, runtime.build(cfg, strict=False))


async def apply(service: Service, runtime: Runtime, cfg: NotificationsConfig) -> bool:
    """Raises ConfigRefused naming the field; returns whether anything changed."""
    built = runtime.build(cfg)
    if cfg == runtime.config and set(built) == set(runtime.channels):
        return False
    async with service.uow() as uow:
        await store.save_config(uow.session, cfg, uow.clock.now())
    runtime.install(cfg, built)
    return True


class UnknownChannel(LookupError):
    pass


async def send_test(service: Service, runtime: Runtime, channel: str,
                    wait_seconds: float = 20.0) -> dict[str, Any]:
    """Queue a test notice for one channel and wait for its first outcome."""
    if channel not in runtime.channels:
        raise UnknownChannel(f"no channel {channel!r} (configured: "
                             f"{', '.join(sorted(runtime.channels)) or 'none'})")
    now = service.clock.now()
    notice = Notice(event_id=uuid.uuid4(), kind="test", severity=Severity.INFO, account_id=None,
                    title="Robson test notification",
                    text=f"channel {channel} works (sent {now:%Y-%m-%d %H:%M:%S} UTC)",
                    occurred_at=now, data={"channel": channel})
    async with service.uow() as uow:
        await store.add_deliveries(uow.session, notice, [channel], now)
    runtime.wake()
    did = store.delivery_id(notice.event_id, channel)
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        async with service.uow() as uow:
            row = await store.one(uow.session, did)
        assert row is not None
        settled = row["status"] in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)
        if settled or (row["attempts"] > 0 and row["status"] == DeliveryStatus.PENDING) \
                or asyncio.get_running_loop().time() > deadline:
            return row
        await asyncio.sleep(0.05)
