"""The whole platform for one end-to-end run: six services as OS processes on the session's
NATS + Postgres, each in fresh schemas of its own, configured as `robson up` does (a robson.yaml
loaded by robson_cli.config and applied through the services' HTTP APIs), fed a replay in
lockstep; then everything the assertions need, read back from the APIs and streams."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from robson_cli.auth import use_token
from robson_cli.config import apply_config, load_config
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import ADMIN_HEADERS, ServiceProcess, read_stream, token, wait_until
from robson_signal.adapters.quiescence import Quiescence

ACCOUNT = "e2e"
TRADER = "ema"
SYMBOLS = ("BTCUSDT", "ETHUSDT")
START_USDT = "10000"
SERVICES = ("paper", "execution", "position", "entry_gate", "decision", "signal")
"""Start order: venues first, the feed last."""

CONFIG_YAML = f"""
accounts:
  - id: {ACCOUNT}
    mode: paper
    starting_balances: {{USDT: {START_USDT}}}
    allow_short: true
    risk:
      positions: {{max_per_trader: 1, max_per_account: 10, min_confidence: 0.5}}
      monthly_loss: {{limit: 0.5}}
      daily_loss: {{limit: 0.5}}
      concurrency: {{enabled: false}}
      stopout_cooldown: {{minutes: 10}}
      frequency: {{per_minute: null, per_hour: null, per_day: null}}
      market: {{max_abs_funding_rate: null, max_data_age_seconds: null}}
traders:
  - id: {TRADER}
    account: {ACCOUNT}
    strategy: ema_cross
    params: {{fast: 5, slow: 13}}
    symbols: [{", ".join(SYMBOLS)}]
    timeframes: [5m]
    decision:
      engine: rules
      min_strength: 0.5
      min_confidence: 0.5
      exit_on_opposite_strength: 0.9
      breakeven_at_r: 0.7
      trail_at_r: 1.4
      trail_percent: 0.6
    management:
      modification_interval_seconds: 0
"""
"""The run's robson.yaml: what a user writes, through the same loader and apply as `robson up`."""


@dataclass
class Platform:
    nats_url: str
    database_url: str
    dataset: Path
    logs: Path
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    config_yaml: str = CONFIG_YAML

    def env(self, name: str) -> dict[str, str]:
        prefix = f"ROBSON_{name.upper()}_"
        env = {"NATS_URL": self.nats_url, "DATABASE_URL": self.database_url,
               f"{prefix}DB_SCHEMA": f"e2e_{self.run}_{name}",
               # a killed service's unacked messages come back quickly
               f"{prefix}ACK_WAIT_SECONDS": "3"}
        if name == "position":  # as `robson up`: position re-syncs with the venues it finds,
            env |= {f"{prefix}{venue.upper()}_URL": self.procs[venue].url  # with its read token
                    for venue in ("paper", "execution")}
            env[f"{prefix}SERVICE_TOKEN"] = token("read", subject="service:position")
        if name == "signal":
            env |= {f"{prefix}FEED": "replay", f"{prefix}FEED_AUTOSTART": "false",
                    f"{prefix}REPLAY_PATH": str(self.dataset), f"{prefix}LOCKSTEP": "true",
                    f"{prefix}SYMBOLS": ",".join(SYMBOLS), f"{prefix}TIMEFRAMES": "5m",
                    # as `robson up`: the lockstep asks the gate about accounts' loss watches
                    f"{prefix}GATE_URL": self.procs["entry_gate"].url,
                    f"{prefix}SERVICE_TOKEN": token("read", subject="service:signal")}
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

    async def configure(self) -> list[str]:
        """Load the run's robson.yaml and apply it; returns what was changed."""
        path = self.logs / f"robson-{self.run}.yaml"
        path.write_text(self.config_yaml)
        config = load_config(path)
        urls = {name: proc.url for name, proc in self.procs.items()}
        use_token(token("admin", subject="e2e"))  # as `robson up` does with its local admin token
        return await asyncio.to_thread(apply_config, config, urls)

    async def start_feed(self) -> None:
        async with httpx.AsyncClient(headers=ADMIN_HEADERS, timeout=30) as http:
            (await http.post(self.url("signal") + "/feed/start")).raise_for_status()

    async def restart(self, name: str) -> None:
        self.procs[name].kill()
        self.procs[name].start(ready=False)
        await asyncio.to_thread(self.procs[name].wait_ready, 120.0)

    async def get(self, name: str, path: str, **params: Any) -> Any:
        async with httpx.AsyncClient(headers=ADMIN_HEADERS, timeout=30) as http:
            response = await http.get(self.url(name) + path, params=params)
            response.raise_for_status()
            return response.json()

    async def wait_finished(self, bus: Bus, timeout: float = 240.0) -> None:
        async def finished() -> bool:
            return bool((await self.get("signal", "/feed"))["finished"])

        await wait_until(finished, timeout=timeout, interval=0.5, message="replay finished")
        await Quiescence(bus, window=0.3).wait()

    def stop(self) -> None:
        for name in reversed(SERVICES):
            if name in self.procs:
                self.procs[name].stop()


@dataclass
class Outcome:
    """What one run produced, read back from every service and every stream."""

    signals: list[Any]
    decisions: list[Any]
    gate_decisions: list[Any]
    position_events: list[Any]
    dead_letters: list[Any]
    positions: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    account: dict[str, Any]
    risk: dict[str, Any]
    feed: dict[str, Any]

    def final_state(self) -> dict[str, Any]:
        """Positions, P&L and balances: what must not depend on timing or crashes."""
        keep = ("position_id", "symbol", "side", "status", "quantity", "entry_price", "exit_price",
                "realized_pnl", "fees", "exit_reason", "stop_loss", "closes")
        return {
            "positions": sorted(({k: p[k] for k in keep} for p in self.positions),
                                key=lambda p: p["position_id"]),
            "balances": self.account["balances"],
            "fills": sorted((f["order_id"], f["price"], f["quantity"], f["fee"]) for f in self.fills),
        }


async def collect(platform: Platform, bus: Bus) -> Outcome:
    feed = await platform.get("signal", "/feed")
    # the risk figures as of the market's last event time, not the wall clock's month
    as_of = max(t for series in feed["last_event_time"].values() for t in series.values())
    return Outcome(
        signals=await read_stream(bus, s.ALL_SIGNALS),
        decisions=await read_stream(bus, s.ALL_DECISIONS),
        gate_decisions=await read_stream(bus, s.ALL_GATE_DECISIONS),
        position_events=await read_stream(bus, s.ALL_POSITION_EVENTS),
        dead_letters=await read_stream(bus, s.ALL_DEAD_LETTERS, raw=True),
        positions=await platform.get("position", "/positions", account_id=ACCOUNT, limit=5000),
        orders=await platform.get("paper", "/orders", account_id=ACCOUNT, limit=1000),
        fills=await platform.get("paper", "/fills", account_id=ACCOUNT, limit=1000),
        account=await platform.get("paper", f"/accounts/{ACCOUNT}"),
        risk=await platform.get("entry_gate", f"/accounts/{ACCOUNT}/risk", at=as_of),
        feed=feed,
    )
