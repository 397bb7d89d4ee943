"""market: what the market background costs — 10 symbols × 20 ticks/s (200 ticks/s, spread
evenly as a live feed's arrive: ``bench.common.steady_market``) through the six services on an
embedded NATS + Postgres, no signals, no positions — as a share of one core (process CPU time,
the steadiest figure on a shared machine). ``market.cpu_share_services`` is the issue's figure,
"≤ 8% of a core across all services": the six service processes' sum. ``market.cpu_share`` adds
NATS and Postgres (the issue names them only for the CPU per signal; here they are measured and
shown beside it, not hidden). The same measurement as bench_e2e's ``e2e.cpu_share_market_only``
(``bench.common.market_cpu_windows``: same market, warm-up and processes), alone and over longer
windows: the median of ``ROBSON_BENCH_MARKET_WINDOWS`` windows (default 3) of
``ROBSON_BENCH_MARKET_SECONDS`` (default 10). ``market.idle_cpu_share`` is the same platform
with no market at all (its floor: timers, polls, pull requests), measured first; the bench's
own publisher (``signal``'s job in production) is reported beside the total, not in it.

``market.floor_cpu_share`` is the floor, measured in the same run on the same NATS and Postgres
with the same feed once the services are stopped: three lean consumers (``bench/lean_market.py``,
one per service that follows ticks: entry_gate, paper, position) doing the least such a
consumer must — durable pull, explicit acks, last price in memory, one write a second.
``market.ratio_to_floor`` is Robson's total over it; ``market.floor_consumers_cpu_share`` is the
three lean consumers' own part, the counterpart of ``market.cpu_share_services``. ``market.feed_alone_cpu_share`` is NATS and
Postgres with the same feed and no consumer fetching (measured between the two): what JetStream
costs to take 200 ticks/s in, before any service reads one."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from robson_kit.bus import Bus
from robson_kit.embedded import Infrastructure
from robson_kit.testing import ServiceProcess, reset_streams

from bench.common import (
    FEED,
    MARKET_SYMBOLS,
    MARKET_TICK_RATE,
    MARKET_WARM_SECONDS,
    Metric,
    at_most,
    cpu_windows,
    embedded_infrastructure,
    info,
    infra_cpu_by_process,
    market_cpu_windows,
    median,
    process_cpu_seconds,
    share_note,
    start_services,
    steady_market,
    stop_processes,
    wire_peers,
)

SYMBOLS, TICK_RATE = MARKET_SYMBOLS, MARKET_TICK_RATE
SERVICES = ("paper", "execution", "position", "entry_gate", "decision", "signal")
WINDOWS = int(os.environ.get("ROBSON_BENCH_MARKET_WINDOWS", "3"))
SECONDS = float(os.environ.get("ROBSON_BENCH_MARKET_SECONDS", "10"))
IDLE_SECONDS = float(os.environ.get("ROBSON_BENCH_MARKET_IDLE_SECONDS", "10"))
TARGET = 8.0
LEAN_CONSUMERS = 3
"""entry_gate, paper and position follow ticks (the others take candles and context only)."""
ROOT = Path(__file__).resolve().parent.parent


def _env(infra: Infrastructure, name: str, run: str) -> dict[str, str]:
    prefix = f"ROBSON_{name.upper()}_"
    env = {"NATS_URL": infra.nats_url, "DATABASE_URL": infra.database_url,
           f"{prefix}DB_SCHEMA": f"bench_{run}_{name}", f"{prefix}LOG_LEVEL": "WARNING"}
    if name == "paper":
        rules = {sym: {"tick": "0.01", "step": "0.001", "min_notional": "5"} for sym in SYMBOLS}
        env |= {f"{prefix}SYMBOLS_JSON": json.dumps(rules)}
    return env


async def _floor_windows(infra: Infrastructure, windows: int,
                         seconds: float) -> tuple[list[float], list[float]]:
    """The lean consumers' market cost (theirs, NATS's and Postgres's), as ``market_cpu_windows``
    measures Robson's, and the lean consumers' own part of each window: the feed must be
    running."""
    procs = [subprocess.Popen([sys.executable, "-m", "bench.lean_market", str(i),  # noqa: ASYNC220
                               infra.nats_url, infra.database_url], cwd=ROOT)
             for i in range(LEAN_CONSUMERS)]

    def used() -> dict[str, float]:
        return ({"consumers": sum(process_cpu_seconds(p.pid) for p in procs)}
                | infra_cpu_by_process(infra) | {FEED: time.process_time()})

    try:
        await asyncio.sleep(MARKET_WARM_SECONDS)
        totals, shares = await cpu_windows(used, windows, seconds, "floor window")
    finally:
        stop_processes(procs)
    return totals, shares["consumers"]


async def _measure() -> tuple[list[float], dict[str, list[float]], dict[str, list[float]],
                              list[float], list[float], list[float]]:
    from robson_kit.testing.auth import install_test_key

    install_test_key()
    with embedded_infrastructure() as infra:
        bus = await Bus(infra.nats_url, name="bench-market").connect()
        await reset_streams(bus)
        logs = Path(tempfile.mkdtemp(prefix="robson-bench-market-"))
        run = uuid.uuid4().hex[:6]
        stop = asyncio.Event()
        market: asyncio.Task[None] | None = None
        floor: list[float] = []
        floor_consumers: list[float] = []
        feed_alone: list[float] = []
        procs = {name: ServiceProcess(f"robson_{name}", _env(infra, name, run),
                                      f"ROBSON_{name.upper()}_HTTP_PORT", logs / f"{name}.log")
                 for name in SERVICES}
        try:
            wire_peers(procs)
            await start_services(procs)
            await asyncio.sleep(MARKET_WARM_SECONDS)
            _, idle = await market_cpu_windows(procs, infra, 1, IDLE_SECONDS, "no market")
            market = asyncio.create_task(steady_market(bus, stop, SYMBOLS, TICK_RATE))
            await asyncio.sleep(MARKET_WARM_SECONDS)  # warm: first ticks of each symbol, caches
            totals, shares = await market_cpu_windows(procs, infra, WINDOWS, SECONDS)
            for proc in reversed(procs.values()):
                proc.stop()
            await asyncio.sleep(MARKET_WARM_SECONDS)
            feed_alone, _ = await cpu_windows(
                lambda: infra_cpu_by_process(infra) | {FEED: time.process_time()}, WINDOWS,
                SECONDS, "feed alone")
            floor, floor_consumers = await _floor_windows(infra, WINDOWS, SECONDS)
        finally:
            stop.set()
            if market is not None:
                await market
            for proc in reversed(procs.values()):
                proc.stop()
            await bus.close()
        print(f"service logs: {logs}")
    return totals, shares, idle, floor, floor_consumers, feed_alone


def run() -> list[Metric]:
    totals, shares, idle, floor, floor_consumers, feed_alone = asyncio.run(_measure())
    per = {name: median(values) for name, values in shares.items()}
    note = (f"{len(SYMBOLS)}×{TICK_RATE} ticks/s, no signals; median of {WINDOWS}×{SECONDS:g}s: "
            + share_note(per))
    idle_per = {name: values[0] for name, values in idle.items() if name != FEED}
    windows = len(totals)
    services = [sum(shares[name][i] for name in SERVICES if name in shares) for i in range(windows)]
    metrics = [at_most("market.cpu_share_services", median(services), "% of a core", TARGET,
                       "the issue's figure, \"across all services\": the six service processes' "
                       "sum (NATS and Postgres below, in market.cpu_share)"),
               info("market.cpu_share", median(totals), "% of a core",
                    "services + NATS + Postgres: " + note),
               info("market.idle_cpu_share", sum(idle_per.values()), "% of a core",
                    f"the same platform with no market, {IDLE_SECONDS:g}s: {share_note(idle_per)}")]
    metrics += [info(f"market.cpu_share.{name.split()[0]}", pct, "% of a core")
                for name, pct in sorted(per.items())]
    if floor:
        lean = median(floor)
        metrics += [
            info("market.floor_consumers_cpu_share", median(floor_consumers), "% of a core",
                 f"the {LEAN_CONSUMERS} lean consumers alone, as market.cpu_share_services "
                 "counts the services"),
            info("market.floor_cpu_share", lean, "% of a core",
                 f"{LEAN_CONSUMERS} lean tick consumers (bench/lean_market.py) + NATS + Postgres, "
                 f"same feed, same run; median of {len(floor)}×{SECONDS:g}s"),
            info("market.ratio_to_floor", median(totals) / lean, "×", "Robson ÷ floor")]
    if feed_alone:
        metrics.append(info(
            "market.feed_alone_cpu_share", median(feed_alone), "% of a core",
            f"NATS + Postgres with the same feed and no consumer fetching (services stopped), "
            f"same run; median of {len(feed_alone)}×{SECONDS:g}s: what JetStream costs to take the "
            f"ticks in, before any service reads one"))
    return metrics
