"""notify as a real process, SIGKILLed mid-delivery (just before and just after a request) and
restarted: every critical notice is delivered exactly once at the webhook receiver (which drops
repeats by delivery key), every routine one at most once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from robson_kit.bus import Bus
from robson_kit.testing import ADMIN_HEADERS, ServiceProcess, wait_until

from .conftest import SECRET, channels
from .events import breach, opened
from .fakes import FakeChatServers

pytestmark = pytest.mark.timeout(240)


def _proc(nats_url: str, database_url: str, schema: str, log: Path, faults: str) -> ServiceProcess:
    env = {"NATS_URL": nats_url, "DATABASE_URL": database_url, "ROBSON_NOTIFY_DB_SCHEMA": schema,
           "ROBSON_NOTIFY_BACKOFF_BASE_SECONDS": "0.05", "ROBSON_NOTIFY_BACKOFF_CAP_SECONDS": "0.5",
           "ROBSON_NOTIFY_SEND_TIMEOUT_SECONDS": "2", "ROBSON_NOTIFY_SENDER_POLL_SECONDS": "0.2",
           "ROBSON_NOTIFY_ACK_WAIT_SECONDS": "2", "TEST_NOTIFY_SECRET": SECRET,
           "ROBSON_FAULTS": faults}
    return ServiceProcess("robson_notify", env, "ROBSON_NOTIFY_HTTP_PORT", log)


async def _died(proc: ServiceProcess) -> bool:
    return proc.proc is not None and proc.proc.poll() is not None


async def _rows(proc: ServiceProcess) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10, headers=ADMIN_HEADERS) as client:
        response = await client.get(f"{proc.url}/deliveries", params={"limit": 1000})
    response.raise_for_status()
    return response.json()


async def _settled(proc: ServiceProcess, n: int) -> list[dict[str, Any]]:
    rows = await _rows(proc)
    return rows if len(rows) >= n and all(r["status"] in ("DELIVERED", "FAILED") for r in rows) else []


async def test_sigkill_around_each_send_delivers_critical_exactly_once_and_routine_at_most_once(
    bus: Bus, nats_url: str, database_url: str, schema: str, fake: FakeChatServers,
    tmp_path: Path
) -> None:
    log = tmp_path / "notify.log"
    proc = _proc(nats_url, database_url, schema, log, "notify.after_send")
    await asyncio.to_thread(proc.start)
    async with httpx.AsyncClient(timeout=10, headers=ADMIN_HEADERS) as client:
        response = await client.put(f"{proc.url}/config", json={
            "channels": {"hook": channels(fake)["hook"]},
            "routes": [{"channel": "hook", "events": ["risk.*", "position.*"]}]})
        assert response.status_code == 200, response.text
    criticals = [breach(n=n) for n in range(5)]
    routines = [opened(f"p{n}") for n in range(5)]
    for r in routines:  # the first routine send kills notify just after the request
        await bus.publish(r)
    crashes = 0
    for faults in ("notify.before_send", "notify.after_send", "notify.before_send", ""):
        await wait_until(lambda p=proc: _died(p), timeout=30, message="a crash")
        crashes += 1
        if crashes == 2:  # published while notify is down: critical ones go first when it is up
            for c in criticals:
                await bus.publish(c)
        proc = _proc(nats_url, database_url, schema, log, faults)
        proc.start(ready=False)  # armed, it may die before it is ever ready
    await asyncio.to_thread(proc.wait_ready)
    try:
        rows = await wait_until(lambda: _settled(proc, 10), timeout=60, message="all settled")
    finally:
        proc.stop()
    assert crashes == 4
    received: dict[str, int] = {}
    for w in fake.got.webhook:
        received[w["event_id"]] = received.get(w["event_id"], 0) + 1
    unique = {w["event_id"] for w in fake.got.unique_webhooks().values()}
    for c in criticals:
        assert str(c.message_id) in unique  # exactly once after the receiver's dedup
    assert len([w for w in fake.got.unique_webhooks().values() if w["kind"] == "risk.breached"]) == 5
    for r in routines:
        assert received.get(str(r.message_id), 0) <= 1
    status = {r["event_id"]: r["status"] for r in rows}
    assert all(status[str(c.message_id)] == "DELIVERED" for c in criticals)
    lost = [r for r in rows if r["status"] == "FAILED"]
    assert len(lost) >= 2  # routine attempts a crash interrupted (at least the first two), never resent
    assert all("UNKNOWN_OUTCOME" in r["last_error"] and r["severity"] == "info" for r in lost)
