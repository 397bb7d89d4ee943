"""Dashboard: the time from a tick published on the bus to the position's P&L updated in the
page, measured in a real headless Chromium (Debian's chromium).

paper, position and the dashboard run as OS processes on embedded NATS + Postgres; a
GateDecision opens one BTCUSDT position on paper; the page is signed in on the positions view.
Then 300 ticks at 20/s, each at a price no other tick has: the bench notes the wall time
before publishing each one; the page notes ``Date.now()`` when its P&L cell shows that price's
mark (``window.__robsonMarks``, written right after the DOM update). Same machine, same clock.

Reference, measured in the same run: the same ticks received by a plain NATS subscriber in this
process (publish → delivery), i.e. what the bus alone costs; the target is a ratio to it."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from robson_contracts import FeedSource, GateDecision, TakeProfitLevel, TradeDecision, TradeTick
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import ServiceProcess
from robson_kit.testing.auth import ADMIN_HEADERS, install_test_key, token

from bench.common import Metric, at_most, embedded_infrastructure, info, median, percentile

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TICKS, RATE = 300, 20.0
BASE = Decimal("50000.00")


def _start(name: str, env: dict[str, str], logs: Path) -> ServiceProcess:
    return ServiceProcess(f"robson_{name}", env, f"ROBSON_{name.upper()}_HTTP_PORT",
                          logs / f"{name}.log").start(ready=False)


def _entry() -> GateDecision:
    now = datetime.now(UTC)
    decision = TradeDecision(
        occurred_at=now, account_id="bench", decision_id=f"d-{uuid.uuid4().hex[:12]}",
        trader_id="bench", symbol="BTCUSDT", decision="LONG", confidence="0.8",
        entry_price=str(BASE), stop_loss="49000",
        take_profits=(TakeProfitLevel(price="60000", fraction="1"),), reasoning="bench")
    return GateDecision(occurred_at=now, account_id="bench", gate_decision_id=uuid.uuid4().hex[:16],
                        outcome="ALLOW_ENTRY", decision=decision, checks=(), approved_quantity="0.1")


async def _tick(bus: Bus, price: Decimal) -> None:
    await bus.publish(TradeTick(occurred_at=datetime.now(UTC), symbol="BTCUSDT", price=price,
                                quantity="1", source=FeedSource.SYNTHETIC), s.tick("BTCUSDT"))


async def _measure(bus: Bus, dashboard: str) -> list[Metric]:
    from playwright.async_api import async_playwright

    delivered: dict[str, float] = {}

    async def on_tick(msg: object) -> None:
        delivered.setdefault(json.loads(msg.data)["price"], time.time() * 1000)  # type: ignore[attr-defined]

    sub = await bus.nc.subscribe(s.ALL_TICKS, cb=on_tick)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page()
        await page.goto(f"{dashboard}/#/login")
        await page.click("#operator-login")
        await page.wait_for_selector("section[data-account]")
        await page.goto(f"{dashboard}/#/positions")
        await page.wait_for_selector("tr[data-trader='bench'] .close-half", timeout=60_000)
        sent: dict[str, float] = {}
        for i in range(TICKS):
            price = BASE + Decimal(i + 1) / 100 * (1 if i % 2 else -1)
            sent[format(price, "f")] = time.time() * 1000
            await _tick(bus, price)
            await asyncio.sleep(1 / RATE)
        await asyncio.sleep(2)
        marks = await page.evaluate("() => window.__robsonMarks")
        await browser.close()
    await sub.unsubscribe()
    shown = {m["price"]: m["at"] for m in marks}
    page_ms = [shown[p] - t for p, t in sent.items() if p in shown]
    bus_ms = [delivered[p] - t for p, t in sent.items() if p in delivered]
    p50, ref = median(page_ms), median(bus_ms)
    return [
        info("dashboard.tick_to_page_pnl_p50", p50, "ms", f"{len(page_ms)}/{TICKS} ticks shown, 20 ticks/s"),
        info("dashboard.tick_to_page_pnl_p99", percentile(page_ms, 99), "ms"),
        info("dashboard.bus_delivery_p50", ref, "ms", "reference: the same ticks to a NATS subscriber"),
        at_most("dashboard.tick_to_page_pnl_p50_over_bus", p50 / ref if ref else float("nan"), "x", 10.0,
                "page P&L latency as a multiple of the bus's own delivery"),
        info("dashboard.ticks_shown_fraction", len(page_ms) / TICKS, "ratio"),
    ]


async def run() -> list[Metric]:
    if not os.access(CHROMIUM, os.X_OK):
        return [info("dashboard.skipped", 0, "", f"no {CHROMIUM}: apt-get install chromium")]
    install_test_key()  # the services verify the bench's token, as they would a client's
    with embedded_infrastructure() as infra, tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        base = {"NATS_URL": infra.nats_url, "DATABASE_URL": infra.database_url}
        procs: dict[str, ServiceProcess] = {}
        try:
            procs["paper"] = _start("paper", base | {"ROBSON_PAPER_LOG_LEVEL": "WARNING"}, logs)
            procs["paper"].wait_ready(120)
            procs["position"] = _start("position", base | {
                "ROBSON_POSITION_PAPER_URL": procs["paper"].url, "ROBSON_POSITION_LOG_LEVEL": "WARNING",
                "ROBSON_POSITION_EXECUTION_URL": procs["paper"].url}, logs)
            procs["position"].wait_ready(120)
            procs["dashboard"] = _start("dashboard", base | {
                "ROBSON_DASHBOARD_PAPER_URL": procs["paper"].url,
                "ROBSON_DASHBOARD_POSITION_URL": procs["position"].url,
                "ROBSON_DASHBOARD_LOG_LEVEL": "WARNING",
                "ROBSON_DASHBOARD_SERVICE_TOKEN": token("admin", subject="local-operator"),
                # nothing else runs here: a service on its default port must not answer instead
                **{f"ROBSON_DASHBOARD_{n}_URL": "http://127.0.0.1:9"
                   for n in ("SIGNAL", "DECISION", "ENTRY_GATE", "EXECUTION")}}, logs)
            procs["dashboard"].wait_ready(120)
            bus = await Bus(infra.nats_url, name="bench-dashboard").connect()
            try:
                await _tick(bus, BASE)
                await bus.publish(_entry(), s.gate_decision("bench", "BTCUSDT"))
                async with httpx.AsyncClient(timeout=10, headers=ADMIN_HEADERS) as http:
                    for _ in range(200):  # paper fills the entry at the next tick
                        await _tick(bus, BASE)
                        found = (await http.get(procs["position"].url + "/positions",
                                                params={"status": "open"})).json()
                        if found and found[0]["status"] == "OPEN":
                            break
                        await asyncio.sleep(0.1)
                return await _measure(bus, procs["dashboard"].url)
            finally:
                await bus.close()
        finally:
            for proc in reversed(procs.values()):
                proc.stop()
