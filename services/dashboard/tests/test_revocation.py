"""A token revoked (``robson token revoke``) or expired: every stream opened with it ends and the
session built on it serves nothing more; a service answering 401 for a viewer's token ends that
viewer's streams too. Real embedded NATS (the revocation bucket, the bus) and Postgres."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from robson_contracts import FeedSource, TradeTick
from robson_contracts import subjects as s
from robson_dashboard.adapters.hub import Client
from robson_dashboard.adapters.token_status import refusal
from robson_dashboard.main import DashboardService
from robson_kit.auth import Authenticator, keys, tokens
from robson_kit.auth.revocation import revoke
from robson_kit.bus import Bus
from robson_kit.testing import token, wait_until
from robson_kit.testing.auth import PUBLIC_PEM

from .conftest import browser, open_stream
from .test_hub import next_event, reader_and_admin, running_hub


async def _sign_in(service: DashboardService, value: str) -> str:
    async with browser(service) as client:
        response = await client.post("/api/session", json={"token": value})
    assert response.status_code == 200, response.text
    return response.cookies["robson_session"]


async def _revoke(bus: Bus, value: str) -> None:
    await revoke(bus.js, tokens.unverified_claims(value)["jti"], subject="viewer", by="test")


async def _ticks(bus: Bus) -> None:
    """The market keeps moving: a tick every 100 ms."""
    price = Decimal("50100")
    while True:
        await bus.publish(TradeTick(occurred_at=datetime.now(UTC), symbol="BTCUSDT", price=price,
                                    source=FeedSource.SYNTHETIC), s.tick("BTCUSDT"))
        price += 1
        await asyncio.sleep(0.1)


async def _read(sent: asyncio.Queue[Any], seconds: float, until: bytes | None = None) -> tuple[bytes, bool]:
    """What the stream sends within ``seconds`` (or until ``until`` is in it), and whether it ended."""
    loop = asyncio.get_running_loop()
    deadline, body = loop.time() + seconds, b""
    while (left := deadline - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(sent.get(), left)
        except TimeoutError:
            break
        if message["type"] == "http.response.start":
            assert message["status"] == 200
            continue
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body, True
        if until is not None and until in body:
            break
    return body, False


async def _ended(client: Client, seconds: float = 5.0) -> bool:
    try:
        async with asyncio.timeout(seconds):
            while (await client.queue.get()) is not None:
                pass
    except TimeoutError:
        return False
    return True


async def test_stream_of_a_revoked_token_ends(secured: DashboardService, bus: Bus) -> None:
    """The marks (live P&L of the positions the token could see) stop for its holder as soon as
    ``robson token revoke`` names it, while the market goes on."""
    value = token("read", subject="viewer")
    sent, stream = await open_stream(secured, await _sign_in(secured, value))
    ticks = asyncio.create_task(_ticks(bus))
    try:
        live, ended = await _read(sent, 10, until=b"event: mark")
        assert b"event: mark" in live and not ended
        await _revoke(bus, value)
        _, ended = await _read(sent, 5)
        assert ended, "the stream of a revoked token is still streaming"
        assert value not in secured.runtime.hub.viewers  # no more re-reads with it either
    finally:
        ticks.cancel()
        stream.cancel()


async def test_stream_ends_when_its_token_expires(secured: DashboardService) -> None:
    """At the token's ``exp``, not at the next event or keepalive: nothing may be needed to happen."""
    value = token("read", subject="viewer", ttl=timedelta(seconds=3))
    expires_at = datetime.fromtimestamp(tokens.unverified_claims(value)["exp"], UTC)
    sent, stream = await open_stream(secured, await _sign_in(secured, value))
    try:
        opened, _ = await _read(sent, 5, until=b"event: snapshot")
        assert b"event: snapshot" in opened
        left = (expires_at - datetime.now(UTC)).total_seconds()
        _, ended = await _read(sent, left + 1.5)
        assert ended, "the stream of an expired token is still open"
    finally:
        stream.cancel()


async def test_session_of_a_revoked_token_no_longer_serves_data(secured: DashboardService, bus: Bus,
                                                                 services: FastAPI) -> None:
    value = token("read", subject="viewer")
    secured.runtime.settings.backtests_dir.mkdir(parents=True)
    (secured.runtime.settings.backtests_dir / "run-1.json").write_text('{"trades": 3}')
    async with browser(secured) as client:
        client.cookies.set("robson_session", await _sign_in(secured, value))
        assert (await client.get("/api/backtests")).status_code == 200
        await _revoke(bus, value)

        async def signed_out() -> bool:
            return (await client.get("/api/session")).json() == {"signed_in": False}

        await wait_until(signed_out, timeout=5, message="the session of a revoked token to end")
        before = len(services.state.seen)
        assert (await client.get("/api/backtests")).status_code == 401
        assert (await client.get("/api/overview")).status_code == 401
        assert (await client.get("/api/svc/position/positions")).status_code == 401
        assert len(services.state.seen) == before  # refused here, never forwarded


async def test_a_revoked_or_expired_token_does_not_sign_in(secured: DashboardService, bus: Bus) -> None:
    value = token("read", subject="viewer")
    await _revoke(bus, value)
    async with browser(secured) as client:

        async def refused() -> bool:
            return (await client.post("/api/session", json={"token": value})).status_code == 401

        await wait_until(refused, timeout=5, message="a revoked token to be refused at sign-in")
        late = await client.post("/api/session", json={"token": token("read", ttl=timedelta(seconds=-1))})
    assert late.status_code == 401 and "TOKEN_EXPIRED" in late.json()["detail"]


async def test_streams_of_a_token_a_service_now_refuses_end(dashboard: DashboardService, bus: Bus,
                                                           services: FastAPI) -> None:
    """The second line: the dashboard did not hear of it, but position answers 401 to the re-read
    of a changed position with the viewer's token."""
    task = await running_hub(dashboard, bus)
    try:
        reader, admin = await reader_and_admin(dashboard)
        services.state.refused.add("reader")
        event = json.dumps({"message_type": "PositionModified", "position_id": "p1"}).encode()
        await bus.nc.publish("robson.position.evt.a1.BTCUSDT", event)
        assert await _ended(reader), "a viewer whose token position refuses is still streaming"
        assert "reader" not in dashboard.runtime.hub.viewers
        _, seen = await next_event(admin, "position")  # another token's stream goes on
        assert seen["position"]["position_id"] == "p1"
    finally:
        task.cancel()


async def test_no_stream_opens_for_a_token_the_services_refuse(dashboard: DashboardService,
                                                              services: FastAPI) -> None:
    session = dashboard.runtime.sessions.open("reader", "token")
    services.state.refused.add("reader")
    sent, stream = await open_stream(dashboard, session.session_id)
    try:
        start = await asyncio.wait_for(sent.get(), 5)
        assert start["status"] == 401
        assert "reader" not in dashboard.runtime.hub.viewers
    finally:
        stream.cancel()


def test_without_a_public_key_the_dashboard_judges_no_token() -> None:
    """A local platform without tokens: nothing changes, the services alone decide."""
    expired = token("read", ttl=timedelta(seconds=-1))
    assert refusal(Authenticator(None), expired) is None
    assert refusal(Authenticator(None), "reader") is None
    judged = Authenticator(keys.parse_public(PUBLIC_PEM))
    assert refusal(judged, expired) == "TOKEN_EXPIRED"
    assert refusal(judged, "reader") == "INVALID_TOKEN"
    assert refusal(judged, token("read")) is None and refusal(judged, None) is None
