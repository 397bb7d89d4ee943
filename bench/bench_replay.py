"""replay: candles per second of the lockstep replay through the whole platform (six services
as processes on an embedded NATS + Postgres, as `robson up --feed replay` runs them) over
BTCUSDT 5m candles (``../shared/data/binance/BTCUSDT-5m-2024.csv.gz`` when present, else a
seeded synthetic series) with the EMA-cross parity config; and whether its closed trades are
`robson backtest`'s on the same data and config (as tests/e2e/test_backtest_parity.py checks).

``ROBSON_BENCH_REPLAY_CANDLES`` (default 10,000) and ``ROBSON_BENCH_REPLAY_RUNS`` (default 3)
size it; the rate is wall time from the feed's start to the platform drained."""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import json
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from robson_backtest.data import read_bars
from robson_backtest.engine import run_backtest
from robson_cli.config import load_config
from robson_cli.config.backtest import backtest_spec
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import read_stream

from bench.common import (
    Metric,
    at_least,
    embedded_infrastructure,
    info,
    median,
    process_cpu_seconds,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path("shared") / "data" / "binance" / "BTCUSDT-5m-2024.csv.gz"
REAL = next((p / DATA for p in ROOT.parents if (p / DATA).exists()), ROOT.parent / DATA)
CANDLES = int(os.environ.get("ROBSON_BENCH_REPLAY_CANDLES", "10000"))
RUNS = int(os.environ.get("ROBSON_BENCH_REPLAY_RUNS", "3"))
TARGET = 100
CENT = Decimal("0.01")


def _load(name: str) -> ModuleType:
    """The e2e tests' modules, by path (tests/ is not an installed package)."""
    package = "robson_bench_e2e"
    if package not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            package, ROOT / "tests" / "e2e" / "__init__.py",
            submodule_search_locations=[str(ROOT / "tests" / "e2e")])
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[package] = module
        spec.loader.exec_module(module)
    return importlib.import_module(f"{package}.{name}")


def _dataset(directory: Path) -> tuple[Path, str]:
    """One CSV of the first CANDLES rows (real when present, else seeded synthetic)."""
    path = directory / "BTCUSDT-5m-2024.csv"
    if REAL.exists():
        with gzip.open(REAL, "rt") as f:
            lines = f.read().splitlines()
        header = [] if lines[0][:1].isdigit() else lines[:1]
        rows = lines[len(header):][:CANDLES]
        path.write_text("\n".join(header + rows) + "\n")
        return path, f"real {REAL.name}"
    market = _load("market")
    path.write_text("\n".join(market.klines(market.SERIES[0], 7, CANDLES)) + "\n")
    return path, "seeded synthetic series"


def _backtest(config_yaml: str, data: Path, tmp: Path) -> list[tuple]:  # type: ignore[type-arg]
    config = tmp / "backtest.yaml"
    config.write_text(config_yaml)
    result = asyncio.run(run_backtest(backtest_spec(load_config(config)), list(read_bars([data]))))
    return sorted(
        (t.position_id, t.symbol, t.side.value, t.quantity, t.entry_price, t.exit_price,
         t.exit_reason.value, t.realized_pnl.quantize(CENT), t.fees.quantize(CENT))
        for t in result.trades)


def _finished(logs: Path) -> dict[str, Any]:
    """Signal's ``feed.finished`` log record (the lockstep's counters), or {} (read once the
    services have stopped: a redirected stdout is flushed at exit)."""
    for path in logs.glob("signal-*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if '"feed.finished"' in line:
                try:
                    return dict(json.loads(line))
                except ValueError:
                    return {}
    return {}


async def _one_run(nats_url: str, database_url: str, data: Path, logs: Path,
                   config_yaml: str) -> tuple[float, list[tuple], int, dict[str, float]]:  # type: ignore[type-arg]
    harness = _load("harness")
    bus = await Bus(nats_url, name="bench-replay").connect()
    try:
        from robson_kit.testing import reset_streams

        await reset_streams(bus)
        platform = harness.Platform(nats_url, database_url, data, logs, config_yaml=config_yaml)
        try:
            await platform.start()
            await platform.configure()
            cpu0 = {n: process_cpu_seconds(p.proc.pid) for n, p in platform.procs.items()}
            started = time.perf_counter()
            await platform.start_feed()
            await platform.wait_finished(bus, timeout=3600.0)
            elapsed = time.perf_counter() - started
            cpu = {n: process_cpu_seconds(p.proc.pid) - cpu0[n] for n, p in platform.procs.items()}
            account = "main"
            positions = await platform.get("position", "/positions", account_id=account,
                                           limit=5000)
            dead = await read_stream(bus, s.ALL_DEAD_LETTERS, raw=True)
            trades = sorted(
                (p["position_id"], p["symbol"], p["side"], Decimal(p["quantity"]),
                 Decimal(p["entry_price"]), Decimal(p["exit_price"]), p["exit_reason"],
                 Decimal(p["realized_pnl"]).quantize(CENT), Decimal(p["fees"]).quantize(CENT))
                for p in positions if p["status"] == "CLOSED")
            return elapsed, trades, len(dead), cpu
        finally:
            platform.stop()
    finally:
        await bus.close()


def run() -> list[Metric]:
    from robson_kit.testing.auth import install_test_key

    install_test_key()  # the services verify the harness's tokens
    plain_loop = _load("plain_loop")
    # the parity config without its ``venue`` line: the platform's paper venue runs on its own
    # defaults (fees, slippage), which are the backtest's defaults too
    config_yaml = "\n".join(line for line in plain_loop.EMA_CONFIG.splitlines()
                             if not line.startswith("venue:")) + "\n"
    rates: list[float] = []
    cpu_per_candle: dict[str, list[float]] = {}
    same = True
    dead_total = 0
    lagging = 0
    with tempfile.TemporaryDirectory(prefix="robson-bench-replay-") as tmp_name:
        tmp = Path(tmp_name)
        data, source = _dataset(tmp)
        candles = sum(1 for _ in read_bars([data]))
        expected = _backtest(config_yaml, data, tmp)
        with embedded_infrastructure() as infra:
            for i in range(RUNS):
                logs = Path(os.environ.get("ROBSON_BENCH_REPLAY_LOGS", tmp)) / f"logs{i}"
                elapsed, trades, dead, cpu = asyncio.run(_one_run(
                    infra.nats_url, infra.database_url, data, logs, config_yaml))
                finished = _finished(logs)  # the services have stopped: their logs are flushed
                lagging += int(finished.get("lockstep_lagging") or 0)
                rates.append(candles / elapsed)
                for name, seconds in cpu.items():
                    cpu_per_candle.setdefault(name, []).append(seconds / candles * 1000)
                same = same and trades == expected
                if trades != expected and os.environ.get("ROBSON_BENCH_REPLAY_DIFF"):
                    for a, b in zip(trades, expected, strict=False):
                        print("  replay:  ", a, "\n  backtest:", b, flush=True)
                dead_total += dead
                print(f"  replay run {i + 1}: {candles / elapsed:.1f} candles/s, "
                      f"{len(trades)} trades (backtest {len(expected)}), same={trades == expected}, "
                      f"settles {finished.get('lockstep_waits')}, consumers found with input "
                      f"JetStream had not counted yet {finished.get('lockstep_lagging')}",
                      flush=True)
    note = f"{source}, {candles:,} candles, {len(expected)} trades, median of {RUNS}"
    metrics = [
        at_least("replay.candles_per_s", median(rates), "candles/s", TARGET, note),
        Metric("replay.trades_identical_to_backtest", 1.0 if same else 0.0, "bool", "== 1",
               same and dead_total == 0,
               "closed positions (side, qty, entry/exit, reason, P&L and fees to the cent)"),
    ]
    metrics.append(info("replay.lockstep_lagging", lagging, "consumers",
                        f"over {RUNS} runs: found drained by JetStream's counts while their input "
                        "was already on the stream (the settle looks them up)"))
    for name, values in sorted(cpu_per_candle.items()):
        metrics.append(info(f"replay.cpu_ms_per_candle.{name}", median(values), "ms",
                            "process CPU over the replay ÷ candles"))
    return metrics
