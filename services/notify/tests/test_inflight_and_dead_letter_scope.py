"""A failed write on one channel waits for the others before the loop restarts (no resend of
a notice in flight); a dead letter reaches only the routes of the account its subject names."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from robson_kit.service import Service
from robson_notify.adapters import store
from robson_notify.domain.model import Notice, Severity
from robson_notify.domain.policy import SendResult
from robson_notify.main import build_service
from robson_notify.outgoing import Outgoing
from robson_notify.sender import Sender

from .conftest import apply, notify_settings
from .fakes import FakeChatServers


class SlowTransport:
    idempotent = False

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sent: list[uuid.UUID] = []

    async def send(self, out: Outgoing) -> SendResult:
        self.sent.append(out.delivery_id)
        await asyncio.sleep(self.seconds)
        return SendResult(True, status=200)


class FastTransport(SlowTransport):
    def __init__(self) -> None:
        super().__init__(0.0)


@pytest_asyncio.fixture
async def quiet_notify(bus, nats_url: str, database_url: str, schema: str,
                       fake: FakeChatServers) -> AsyncIterator[Service]:
    """notify without its own sender loop: the test drives one."""
    service = build_service(notify_settings(nats_url, database_url, schema, fake))
    service.background = []
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def test_a_db_error_on_one_channel_does_not_resend_a_critical_notice_in_flight_elsewhere(
    quiet_notify: Service, fake: FakeChatServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Channel "a" fails to record its outcome once (a database blip); channel "b" is still
    waiting for its chat server's reply. The sender loop restarts (supervised) and its start-up
    recovery must not take b's attempt, still in flight in this very process, for one a crash
    interrupted: b's critical notice would be sent twice."""
    service = quiet_notify
    runtime: Any = service.deps
    url = f"json://127.0.0.1:{fake.port}/hook"
    await apply(service, {"channels": {"a": {"url": url}, "b": {"url": url}},
                          "routes": [{"channel": "a"}, {"channel": "b"}]})
    a, b = FastTransport(), SlowTransport(1.5)
    runtime.channels = {"a": a, "b": b}
    real_settle = store.settle
    blips = {"left": 1}

    async def settle(session: Any, lead: uuid.UUID, *args: Any) -> None:
        if lead in a.sent and blips["left"]:
            blips["left"] -= 1
            raise ConnectionResetError("database connection lost")
        await real_settle(session, lead, *args)

    monkeypatch.setattr(store, "settle", settle)
    now = datetime.now(UTC)
    notice = Notice(uuid.uuid4(), "risk.breached", Severity.CRITICAL, "acc1", "breach", "text", now)
    async with service.uow() as uow:
        await store.add_deliveries(uow.session, notice, ["a", "b"], now)
    sender = Sender(runtime, service.uow, service.clock, service.settings.retry_policy())
    service.supervise("sender_under_test", sender.run)
    await asyncio.sleep(4.0)
    b_id = store.delivery_id(notice.event_id, "b")
    assert b.sent.count(b_id) == 1, f"b's critical notice was sent {b.sent.count(b_id)} times"


def test_a_route_scoped_to_one_account_gets_no_dead_letter_about_another_account() -> None:
    """A route for acc2 only must not receive a dead letter of acc1's message (its subject and
    reason describe acc1's order). Dead letters carry no account_id, and a notice without one
    matches every route whatever its ``accounts``."""
    from robson_notify.domain.config import NotificationsConfig
    from robson_notify.domain.notices import notice_for

    from .events import dead_letter

    cfg = NotificationsConfig.model_validate({
        "channels": {"acc2_chat": {"url": "json://127.0.0.1/hook"}},
        "routes": [{"channel": "acc2_chat", "events": ["*"], "accounts": ["acc2"]}]})
    letter = dead_letter()
    assert letter.subject == "robson.order.evt.acc1.BTCUSDT"
    notice = notice_for(letter)
    assert notice is not None
    assert cfg.channels_for(notice) == [], "acc2's channel is told about acc1's dead letter"
