from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from robson_kit.service import Service
from robson_kit.testing import asgi_client
from robson_notify.main import build_service
from robson_notify.settings import NotifySettings

from .fakes import FakeChatServers

SECRET = "s3cret"


def notify_settings(nats_url: str, database_url: str, schema: str, fake: FakeChatServers,
                    **overrides: Any) -> NotifySettings:
    values: dict[str, Any] = dict(
        nats_url=nats_url, database_url=database_url, db_schema=schema, ack_wait_seconds=2,
        max_deliver=3, backoff_base_seconds=0.05, backoff_cap_seconds=0.5,
        send_timeout_seconds=1.0, sender_poll_seconds=0.2, summary_poll_seconds=0.2,
        summary_grace_seconds=2.0,
        discord_api_url=fake.base, telegram_api_url=fake.base)
    return NotifySettings(**(values | overrides))


def channels(fake: FakeChatServers, **extra: Any) -> dict[str, Any]:
    return {
        "discord": {"url": "discord://4242/discordtoken", **extra},
        "telegram": {"url": "tgram://123456789:AAtelegramtoken/-1001", **extra},
        "hook": {"url": f"json://127.0.0.1:{fake.port}/hook", "secret_env": "TEST_NOTIFY_SECRET",
                 **extra},
    }


def config(fake: FakeChatServers, events: tuple[str, ...] = ("*",), **extra: Any) -> dict[str, Any]:
    chans = channels(fake, **extra)
    return {"channels": chans,
            "routes": [{"channel": name, "events": list(events)} for name in chans]}


@pytest.fixture(autouse=True)
def _secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_NOTIFY_SECRET", SECRET)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeChatServers]:
    server = await FakeChatServers(SECRET.encode()).start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def notify(bus, nats_url: str, database_url: str, schema: str,
                 fake: FakeChatServers) -> AsyncIterator[Service]:
    service = build_service(notify_settings(nats_url, database_url, schema, fake))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def apply(service: Service, body: dict[str, Any]) -> Any:
    async with asgi_client(service) as client:
        response = await client.put("/config", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def deliveries(service: Service, **params: Any) -> list[dict[str, Any]]:
    async with asgi_client(service) as client:
        response = await client.get("/deliveries", params={"limit": 1000, **params})
    response.raise_for_status()
    return response.json()
