"""market: what the market background costs — 10 symbols × 20 ticks/s (200 ticks/s) through
the six services on an embedded NATS + Postgres, no signals, no positions — as a share of one
core, summed over the services, NATS and Postgres (process CPU time, the steadiest figure on a
shared machine). The same measurement as bench_e2e's ``e2e.cpu_share_market_only``, alone and
over longer windows: the median of ``ROBSON_BENCH_MARKET_WINDOWS`` windows (default 3) of
``ROBSON_BENCH_MARKET_SECONDS`` (default 10)."""

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

from robson_contracts import TradeTick
from robson_kit.bus import Bus
from robson_kit.embedded import Infrastructure
from robson_kit.testing import ServiceProcess, reset_streams

from bench.common import (
    Metric,
    at_most,
    embedded_infrastructure,
    info,
    infra_cpu_by_process,
    median,
    process_cpu_seconds,
    start_services,
)

SYMBOLS = tuple(f"B{i:02d}USDT" for i in range(10))
TICK_RATE = 20
SERVICES = ("paper", "execution", "position", "entry_gate", "decision", "signal")
WINDOWS = int(os.environ.get("ROBSON_BENCH_MARKET_WINDOWS", "3"))
SECONDS = float(os.environ.get("ROBSON_BENCH_MARKET_SECONDS", "10"))
TARGET = 8.0


def _env(infra: Infrastructure, name: str, run: str) -> dict[str, str]:
    prefix = f"ROBSON_{name.upper()}_"
    env = {"NATS_URL": infra.nats_url, "DATABASE_URL": infra.database_url,
           f"{prefix}DB_SCHEMA": f"bench_{run}_{name}", f"{prefix}LOG_LEVEL": "WARNING"}
    if name == "paper":
        rules = {sym: {"tick": "0.01", "step": "0.001", "min_notional": "5"} for sym in SYMBOLS}
        env |= {f"{prefix}SYMBOLS_JSON": json.dumps(rules)}
    return env


async def _market(bus: Bus, stop: asyncio.Event) -> None:
    """Every symbol ticks TICK_RATE times a second, on a fixed schedule; the price walks."""
    start, n = time.perf_counter(), 0
    while not stop.is_set():
        now = datetime.now(UTC)
        price = Decimal(100) + Decimal(n % 50) / 100
        await asyncio.gather(*(bus.publish(TradeTick(
            occurred_at=now, symbol=sym, price=price, trade_id=uuid.uuid4().hex,
            source="EXTERNAL")) for sym in SYMBOLS))
        n += 1
        await asyncio.sleep(max(0.0, start + n / TICK_RATE - time.perf_counter()))


def _cpu(procs: dict[str, ServiceProcess], infra: Infrastructure) -> dict[str, float]:
    now = {name: process_cpu_seconds(p.proc.pid) for name, p in procs.items() if p.proc}
    return now | infra_cpu_by_process(infra)


async def _measure() -> tuple[list[float], dict[str, list[float]]]:
    from robson_kit.testing.auth import install_test_key

    install_test_key()
    totals: list[float] = []
    shares: dict[str, list[float]] = {}
    with embedded_infrastructure() as infra:
        bus = await Bus(infra.nats_url, name="bench-market").connect()
        await reset_streams(bus)
        logs = Path(tempfile.mkdtemp(prefix="robson-bench-market-"))
        run = uuid.uuid4().hex[:6]
        stop = asyncio.Event()
        market = asyncio.create_task(_market(bus, stop))
        procs = {name: ServiceProcess(f"robson_{name}", _env(infra, name, run),
                                      f"ROBSON_{name.upper()}_HTTP_PORT", logs / f"{name}.log")
                 for name in SERVICES}
        try:
            await start_services(procs)
            await asyncio.sleep(3)  # warm: first ticks of each symbol, caches
            for _ in range(WINDOWS):
                before, started = _cpu(procs, infra), time.perf_counter()
                await asyncio.sleep(SECONDS)
                after, elapsed = _cpu(procs, infra), time.perf_counter() - started
                used = {n: (after[n] - before.get(n, 0.0)) / elapsed * 100 for n in after}
                totals.append(sum(used.values()))
                for name, pct in used.items():
                    shares.setdefault(name, []).append(pct)
                print(f"  market window: {sum(used.values()):.1f}% of a core — " + ", ".join(
                    f"{n} {p:.1f}%" for n, p in sorted(used.items(), key=lambda kv: -kv[1])),
                      flush=True)
        finally:
            stop.set()
            await market
            for proc in reversed(procs.values()):
                proc.stop()
            await bus.close()
        print(f"service logs: {logs}")
    return totals, shares


def run() -> list[Metric]:
    totals, shares = asyncio.run(_measure())
    per = {name: median(values) for name, values in shares.items()}
    note = (f"{len(SYMBOLS)}×{TICK_RATE} ticks/s, no signals; median of {WINDOWS}×{SECONDS:g}s: "
            + ", ".join(f"{n} {p:.1f}%" for n, p in sorted(per.items(), key=lambda kv: -kv[1])))
    metrics = [at_most("market.cpu_share", median(totals), "% of a core", TARGET, note)]
    metrics += [info(f"market.cpu_share.{name}", pct, "% of a core") for name, pct in sorted(per.items())]
    return metrics
