"""notify's delivery latency — event published → signed webhook received — at 20 events/s,
and its CPU per event.

notify runs as its own process on embedded NATS + Postgres; a local receiver (in this process)
verifies each webhook's HMAC and stamps its arrival. The reference, measured in the same run, is
one direct signed POST to the same receiver: the floor of a webhook hop on this machine.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from aiohttp import web
from robson_contracts import ExitReason, PositionClosed, PositionOpened
from robson_contracts.types import PositionSide
from robson_kit.bus import Bus
from robson_kit.embedded import free_port
from robson_kit.testing import ServiceProcess, reset_streams
from robson_kit.testing.auth import ADMIN_HEADERS, install_test_key

from bench.common import (
    Metric,
    at_most,
    embedded_infrastructure,
    info,
    median,
    percentile,
    process_cpu_seconds,
)

RATE = 20
EVENTS = 400
SECRET = b"bench-secret"


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.arrived: dict[str, float] = {}
        self.bad = 0
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self.runner = web.AppRunner(app)

    async def start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def _hook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        now = time.perf_counter()
        sig = "sha256=" + hmac.new(SECRET, raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig, request.headers.get("X-Robson-Signature", "")):
            self.bad += 1
            return web.Response(status=401)
        self.arrived.setdefault(json.loads(raw)["event_id"], now)
        return web.Response(status=200)


def _event(rng: random.Random, n: int) -> PositionOpened | PositionClosed:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
    price = Decimal(rng.randint(20000, 70000))
    common = dict(occurred_at=at, account_id=f"acc{n % 4}", position_id=f"p{n // 2}",
                  trader_id="t1", symbol="BTCUSDT", side=PositionSide.LONG)
    if n % 2 == 0:
        return PositionOpened(**common, quantity=Decimal("0.01"), entry_price=price,
                              stop_loss=price * Decimal("0.98"), initial_risk=Decimal("4"),
                              fees=Decimal("0.2"))
    return PositionClosed(**common, quantity=Decimal("0.01"), entry_price=price,
                          exit_price=price * Decimal("1.01"), realized_pnl=Decimal("1.8"),
                          fees=Decimal("0.4"), exit_reason=ExitReason.TAKE_PROFIT, opened_at=at,
                          holding_seconds=60)


async def _reference(receiver: Receiver, tries: int = 200) -> list[float]:
    out = []
    async with httpx.AsyncClient() as client:
        for _ in range(tries):
            body = json.dumps({"event_id": uuid.uuid4().hex}).encode()
            sig = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
            started = time.perf_counter()
            await client.post(f"http://127.0.0.1:{receiver.port}/hook", content=body,
                              headers={"X-Robson-Signature": sig})
            out.append(time.perf_counter() - started)
    return out


async def _measure(bus: Bus, proc: ServiceProcess, receiver: Receiver) -> tuple[list[float], float]:
    rng = random.Random(7)
    published: dict[str, float] = {}
    pid = proc.proc.pid if proc.proc else 0
    cpu_before = process_cpu_seconds(pid)
    start = time.perf_counter()
    for n in range(EVENTS):
        await asyncio.sleep(max(0.0, start + n / RATE - time.perf_counter()))
        event = _event(rng, n)
        published[str(event.message_id)] = time.perf_counter()
        await bus.publish(event)
    deadline = time.perf_counter() + 60
    while len(receiver.arrived) < EVENTS and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    cpu = process_cpu_seconds(pid) - cpu_before
    lat = [receiver.arrived[k] - t for k, t in published.items() if k in receiver.arrived]
    return lat, cpu


async def run() -> list[Metric]:
    receiver = Receiver()
    await receiver.start()
    install_test_key()  # the services verify the bench's token, as they would a client's
    with embedded_infrastructure("robson-bench-notify-") as infra:
        bus = await Bus(infra.nats_url, name="bench-notify").connect()
        await reset_streams(bus)
        logs = Path(tempfile.mkdtemp(prefix="robson-bench-notify-"))
        env = {"NATS_URL": infra.nats_url, "DATABASE_URL": infra.database_url,
               "ROBSON_NOTIFY_DB_SCHEMA": "bench_notify", "ROBSON_NOTIFY_LOG_LEVEL": "WARNING",
               "BENCH_HOOK_SECRET": SECRET.decode()}
        proc = ServiceProcess("robson_notify", env, "ROBSON_NOTIFY_HTTP_PORT", logs / "notify.log")
        await asyncio.to_thread(proc.start, 120.0)
        try:
            async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:
                (await http.put(f"{proc.url}/config", json={
                    "channels": {"hook": {"url": f"json://127.0.0.1:{receiver.port}/hook",
                                          "secret_env": "BENCH_HOOK_SECRET",
                                          "rate_per_minute": 6000, "burst": 1000}},
                    "routes": [{"channel": "hook", "events": ["position.*"]}]})).raise_for_status()
            ref = await _reference(receiver)
            receiver.arrived.clear()
            lat, cpu = await _measure(bus, proc, receiver)
        finally:
            proc.stop()
            await bus.close()
            await receiver.runner.cleanup()
    ms = [x * 1000 for x in lat]
    ref_ms = median([x * 1000 for x in ref])
    p50, p99 = median(ms), percentile(ms, 99)
    return [
        info("notify.latency_p50_ms", p50, "ms",
             f"published → signed webhook received, {RATE} events/s, {len(ms)}/{EVENTS} arrived"),
        info("notify.latency_p99_ms", p99, "ms"),
        info("notify.webhook_reference_ms", ref_ms, "ms", "one direct signed POST, same receiver"),
        at_most("notify.latency_p50_vs_reference", p50 / ref_ms, "×", 100,
                "bus hop + inbox/delivery commit + attempt/outcome commits + the POST"),
        info("notify.cpu_ms_per_event", cpu * 1000 / EVENTS, "ms",
             "notify process CPU (user+sys) over the paced run / events"),
    ]
