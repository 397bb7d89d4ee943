"""The platform for the browser tests: the six services and the dashboard as OS processes on the
session's NATS + Postgres (fresh schemas), configured through their APIs as `robson up` does,
fed a short seeded replay in lockstep; afterwards a live market of ticks at wall-clock time,
published on the bus by the test, and webhook signals for traders the test drives."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from robson_cli.auth import use_token
from robson_cli.config import apply_config, load_config
from robson_contracts import FeedSource, TradeTick
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import ADMIN_HEADERS, ServiceProcess, token, wait_until

ACCOUNT = "e2e"
LOCKED = "locked"
SYMBOLS = ("BTCUSDT", "ETHUSDT")
SECRET = "browser-test-secret"
SERVICES = ("paper", "execution", "position", "entry_gate", "decision", "signal", "dashboard")
WEBHOOK_TRADERS = {"manual": (ACCOUNT, "NONE"), "approver": (ACCOUNT, "CANCEL_WINDOW"),
                   "burst": (LOCKED, "NONE")}
"""trader → (account, approval mode): driven by the test through signal's webhook."""
APPROVAL_WINDOW_SECONDS = 600

RISK = """
    risk:
      positions: {max_per_trader: 3, max_per_account: 10, min_confidence: 0.5}
      monthly_loss: {limit: 0.5}
      daily_loss: {limit: 0.5}
      concurrency: {enabled: false}
      stopout_cooldown: {minutes: 1}
      market: {max_abs_funding_rate: null, max_data_age_seconds: null}"""
CONFIG_YAML = f"""
accounts:
  - id: {ACCOUNT}
    mode: paper
    starting_balances: {{USDT: "10000"}}
    allow_short: true{RISK}
      frequency: {{per_minute: null, per_hour: null, per_day: null}}
  - id: {LOCKED}
    mode: paper
    starting_balances: {{USDT: "10000"}}
    allow_short: true{RISK}
      frequency: {{per_minute: 1, per_hour: null, per_day: null, cooldown_minutes: 10}}
traders:
  - id: ema
    account: {ACCOUNT}
    strategy: ema_cross
    params: {{fast: 5, slow: 13}}
    symbols: [{", ".join(SYMBOLS)}]
    timeframes: [5m]
    decision: {{engine: rules, min_strength: 0.5, min_confidence: 0.5}}
    management: {{modification_interval_seconds: 0}}
"""


@dataclass
class BrowserPlatform:
    nats_url: str
    database_url: str
    dataset: Path
    logs: Path
    backtests: Path
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    procs: dict[str, ServiceProcess] = field(default_factory=dict)

    def env(self, name: str) -> dict[str, str]:
        prefix = f"ROBSON_{name.upper()}_"
        env = {"NATS_URL": self.nats_url, "DATABASE_URL": self.database_url,
               f"{prefix}DB_SCHEMA": f"ui_{self.run}_{name}", f"{prefix}LOG_LEVEL": "WARNING"}
        if name == "position":
            env |= {f"{prefix}{v.upper()}_URL": self.procs[v].url for v in ("paper", "execution")}
        if name == "signal":
            env |= {f"{prefix}FEED": "replay", f"{prefix}FEED_AUTOSTART": "false",
                    f"{prefix}REPLAY_PATH": str(self.dataset), f"{prefix}LOCKSTEP": "true",
                    f"{prefix}SYMBOLS": ",".join(SYMBOLS), f"{prefix}TIMEFRAMES": "5m"}
        if name == "dashboard":
            env |= {f"{prefix}{v.upper()}_URL": self.procs[v].url for v in SERVICES[:-1]}
            env[f"{prefix}BACKTESTS_DIR"] = str(self.backtests)
            env[f"{prefix}SERVICE_TOKEN"] = token("admin", subject="local-operator")
        if name == "position":
            env[f"{prefix}SERVICE_TOKEN"] = token("read", subject="service:position")
        return env

    def url(self, name: str) -> str:
        return self.procs[name].url

    async def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            self.procs[name] = ServiceProcess(
                f"robson_{name}", self.env(name), f"ROBSON_{name.upper()}_HTTP_PORT",
                self.logs / f"{name}-{self.run}.log").start(ready=False)
        for name in SERVICES:
            await asyncio.to_thread(self.procs[name].wait_ready, 120.0)

    async def configure(self) -> None:
        path = self.logs / f"robson-{self.run}.yaml"
        path.write_text(CONFIG_YAML)
        urls = {name: proc.url for name, proc in self.procs.items() if name != "dashboard"}
        use_token(token("admin", subject="browser-tests"))  # as `robson up` does with its local admin token
        await asyncio.to_thread(apply_config, load_config(path), urls)
        async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:
            for trader, (account, approval) in WEBHOOK_TRADERS.items():
                (await http.put(f"{self.url('signal')}/traders/{trader}", json={
                    "account_id": account, "strategy": "ema_cross", "params": {"fast": 5, "slow": 13},
                    "symbols": list(SYMBOLS), "timeframes": ["5m"], "enabled": False,
                    "webhook_secret": SECRET})).raise_for_status()
                (await http.put(f"{self.url('decision')}/traders/{trader}/settings", json={
                    "engine": "rules", "min_strength": "0.5", "min_confidence": "0.5",
                    "approval_mode": approval,
                    "cancel_window_seconds": str(APPROVAL_WINDOW_SECONDS)})).raise_for_status()

    async def replay(self, timeout: float = 150.0) -> None:
        async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:
            (await http.post(self.url("signal") + "/feed/start")).raise_for_status()

            async def finished() -> bool:
                return bool((await http.get(self.url("signal") + "/feed")).json()["finished"])

            await wait_until(finished, timeout=timeout, interval=0.5, message="replay finished")

    async def last_closes(self) -> dict[str, Decimal]:
        async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:
            out = {}
            for symbol in SYMBOLS:
                candles = (await http.get(self.url("signal") + "/candles", params={
                    "symbol": symbol, "timeframe": "5m", "limit": 10000})).json()
                out[symbol] = Decimal(candles[-1]["close"])
            return out

    async def webhook(self, trader: str, symbol: str, action: str, price: Decimal) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:
            response = await http.post(self.url("signal") + "/signals", json={
                "id": uuid.uuid4().hex, "trader_id": trader, "secret": SECRET, "symbol": symbol,
                "action": action, "price": str(price), "timeframe": "5m",
                "time": datetime.now(UTC).isoformat()})
            assert response.status_code in (200, 202), response.text
            return response.json()

    async def get(self, name: str, path: str, **params: Any) -> Any:
        async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:
            response = await http.get(self.url(name) + path, params=params)
            response.raise_for_status()
            return response.json()

    def stop(self) -> None:
        for name in reversed(SERVICES):
            if name in self.procs:
                self.procs[name].stop()


class Market:
    """Ticks at wall-clock time for every symbol, published on the bus as signal would; the
    test moves the price with ``set``. Paper fills market orders on them."""

    def __init__(self, bus: Bus, prices: dict[str, Decimal], interval: float = 0.25) -> None:
        self.bus = bus
        self.prices = dict(prices)
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def set(self, symbol: str, price: Decimal) -> None:
        self.prices[symbol] = price

    async def publish(self, symbol: str, price: Decimal | None = None) -> datetime:
        if price is not None:
            self.prices[symbol] = price
        at = datetime.now(UTC)
        tick = TradeTick(occurred_at=at, symbol=symbol, price=self.prices[symbol],
                         quantity=Decimal("1"), source=FeedSource.SYNTHETIC)
        await self.bus.publish(tick, s.tick(symbol))
        return at

    async def _run(self) -> None:
        while True:
            for symbol in list(self.prices):
                await self.publish(symbol)
            await asyncio.sleep(self.interval)

    def start(self) -> Market:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def sample_backtest_report(directory: Path) -> Path:
    """A report file as `robson backtest` would leave one, for the performance page to list."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ema-cross-2024-01.json"
    path.write_text(json.dumps({"strategy": "ema_cross", "symbols": list(SYMBOLS), "trades": 12,
                                "total_pnl": "184.20", "win_rate": "0.5833", "max_drawdown": "96.10"}))
    return path
