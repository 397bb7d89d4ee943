"""Test harness: `robson up` as a real subprocess on the session's NATS and on a database of its own (so its
default schema names collide with nothing), every service on a free port."""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
from robson_cli.services import SERVICES
from robson_kit.bus import Bus
from robson_kit.embedded import Infrastructure, free_port
from robson_kit.testing import reset_streams

TEST_CONFIG = """
accounts:
  - id: acc1
    starting_balances: {USDT: 10000}
    allow_short: true
    risk:   # the gate's calendar follows wall-clock admin events: relax its time-based rules
      market: {max_data_age_seconds: null}
      positions: {min_confidence: 0.6}
      stopout_cooldown: {enabled: false}
      frequency: {per_minute: null, per_hour: null, per_day: null, cooldown_minutes: 0}
traders:
  - id: t1
    account: acc1
    strategy: ema_cross
    params: {fast: 9, slow: 21}
    symbols: [BTCUSDT]
    timeframes: [5m]
"""


def kline_csv(n: int = 400, seed: int = 7) -> str:
    """A seeded 5m BTCUSDT series swinging in waves, so EMA 9/21 crosses both ways."""
    rng, price, rows = random.Random(seed), 40000.0, []
    start_ms, step_ms = 1704067200000, 300_000
    for i in range(n):
        close = price * (1 + 0.004 * math.sin(i / 9.0) + rng.gauss(0, 0.001))
        high = max(price, close) * (1 + abs(rng.gauss(0, 0.001)))
        low = min(price, close) * (1 - abs(rng.gauss(0, 0.001)))
        rows.append(f"{start_ms + i * step_ms},{price:.2f},{high:.2f},{low:.2f},{close:.2f},"
                    f"{10 + rng.random():.4f}")
        price = close
    return "open_time,open,high,low,close,volume\n" + "\n".join(rows) + "\n"


async def _create_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _fresh_streams(nats_url: str) -> None:
    bus = await Bus(nats_url, name="cli-tests").connect()
    try:
        await reset_streams(bus)
    finally:
        await bus.close()


class RobsonUp:
    """One `robson up` process and the `robson` commands that talk to it."""

    def __init__(self, infra: Infrastructure, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.database = f"cli_{uuid.uuid4().hex[:10]}"
        self.server_url = infra.database_url
        self.env = {**os.environ, "NATS_URL": infra.nats_url, "ROBSON_DATA_DIR": str(self.data),
                    "DATABASE_URL": infra.database_url.rsplit("/", 1)[0] + f"/{self.database}",
                    "COLUMNS": "200", "NO_COLOR": "1"}
        for svc in SERVICES:
            self.env[f"{svc.env_prefix}HTTP_PORT"] = str(free_port())
        self.proc: subprocess.Popen[str] | None = None
        self.log = root / "up.log"
        asyncio.run(_create_database(self.server_url, self.database))
        asyncio.run(_fresh_streams(infra.nats_url))

    def start(self, *args: str) -> RobsonUp:
        config = self.root / "robson.yaml"
        if not config.exists():
            config.write_text(TEST_CONFIG)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "robson_cli.main", "up", "--config", str(config), *args],
            env=self.env, cwd=self.root, stdout=self.log.open("w"), stderr=subprocess.STDOUT, text=True)
        return self

    def output(self) -> str:
        return self.log.read_text()

    def run_file(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.data / "run.json").read_text())
        except (OSError, ValueError):
            return None

    def wait_for(self, what: str, predicate: Callable[[], Any], timeout: float = 240.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (found := predicate()):
                return found
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"robson up exited ({self.proc.returncode}) before {what}:\n{self.output()}")
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}:\n{self.output()[-3000:]}")

    def wait_replay_reported(self) -> dict[str, Any]:
        return self.wait_for("the replay report", lambda: (doc := self.run_file()) and doc.get("report") and doc)

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "robson_cli.main", *args], env=self.env,
                              cwd=self.root, input=stdin, capture_output=True, text=True, timeout=120)

    def json(self, *args: str) -> Any:
        done = self.cli(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 120) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.stop(signal.SIGTERM)
        asyncio.run(_drop_database(self.server_url, self.database))
