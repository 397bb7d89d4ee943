"""Fixtures of the browser tests: Debian's chromium (installed when missing and we are root),
the platform on a seeded replay, a live market, and one signed-in page that records every
request's host and every console error."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import pytest_asyncio
from robson_kit.bus import Bus
from robson_kit.testing import reset_streams

from .platform import BrowserPlatform, Market, sample_backtest_report

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = os.environ.get("ROBSON_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
SEED, CANDLES = 9, 60


def _e2e_market() -> Any:
    """tests/e2e/market.py's seeded kline writer (the e2e tests' market), loaded by path: the
    test folders are separate top-level packages under --import-mode=importlib."""
    spec = importlib.util.spec_from_file_location(
        "robson_e2e_market", Path(__file__).parents[1] / "e2e" / "market.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def chromium_path() -> str:
    """Debian's chromium; installed with apt when missing and we may (root, as on CI)."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, timeout=900)
        if Path(CHROMIUM).exists():
            return CHROMIUM
    pytest.skip(f"no chromium at {CHROMIUM}, and not root to `apt-get install chromium` "
                "(install it, or set ROBSON_CHROMIUM to a Chromium binary)")


@dataclass
class Watch:
    """What the page did: hosts of every request, console errors, page errors."""

    hosts: set[str] = field(default_factory=set)
    urls: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    expected: list[tuple[str, int]] = field(default_factory=list)
    """(URL part, status) of refusals a test provokes: Chromium logs each failed fetch."""

    def expect(self, url_part: str, status: int) -> None:
        self.expected.append((url_part, status))

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.console_errors
                if not any(part in e and f"status of {status}" in e for part, status in self.expected)]

    def on_request(self, request: Any) -> None:
        self.urls.append(request.url)
        parsed = urlparse(request.url)
        if parsed.scheme in ("http", "https", "ws", "wss"):
            self.hosts.add(parsed.hostname or "")

    def on_console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(f"console: {message.text} @ {message.location}")

    def on_page_error(self, error: Any) -> None:
        self.console_errors.append(f"pageerror: {error}")


@dataclass
class UI:
    platform: BrowserPlatform
    market: Market
    page: Any
    watch: Watch
    base: str

    async def goto(self, route: str) -> None:
        await self.page.goto(f"{self.base}/#/{route}")

    async def shot(self, name: str, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest_asyncio.fixture(scope="module")
async def ui(nats_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[UI]:
    executable = chromium_path()
    from playwright.async_api import async_playwright
    from robson_dashboard.assets import build
    from robson_dashboard.settings import WEB_DIR

    await asyncio.to_thread(build, WEB_DIR)  # the chart library, as `make run` gets it

    work = tmp_path_factory.mktemp("browser")
    bus = await Bus(nats_url, name="browser-tests").connect()
    await reset_streams(bus)
    platform = BrowserPlatform(nats_url, database_url, _e2e_market().write_dataset(work / "klines", SEED, CANDLES),
                               work / "logs", work / "backtests")
    sample_backtest_report(platform.backtests)
    market: Market | None = None
    try:
        await platform.start()
        await platform.configure()
        await platform.replay()
        market = Market(bus, await platform.last_closes()).start()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            context = await browser.new_context(viewport={"width": 1440, "height": 900})
            page = await context.new_page()
            watch = Watch()
            page.on("request", watch.on_request)
            page.on("console", watch.on_console)
            page.on("pageerror", watch.on_page_error)
            page.set_default_timeout(20_000)
            yield UI(platform, market, page, watch, platform.url("dashboard"))
            await browser.close()
    finally:
        if market is not None:
            await market.stop()
        platform.stop()
        await bus.close()
