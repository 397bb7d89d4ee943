"""backtest: candles per second of `robson backtest` (the services' own code in one process)
over a year-long 5m series through the EMA-cross config, against the same rules as the parity
test's plain loop, measured in the same run; the trades must be the plain loop's."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from types import ModuleType

from robson_backtest.data import read_bars
from robson_backtest.engine import RunResult, run_backtest
from robson_cli.config import load_config
from robson_cli.config.backtest import backtest_spec
from robson_contracts import Timeframe
from robson_kit.logs import configure_logging
from robson_signal.domain.bars import Bar
from robson_signal.domain.synthetic import SyntheticMarket

from bench import backtest_breakdown as breakdown
from bench import backtest_calls as calls
from bench.common import Metric, at_least, info, median

ROOT = Path(__file__).resolve().parent.parent
DATA = Path("shared") / "data" / "binance" / "BTCUSDT-5m-2024.csv.gz"
REAL = next((p / DATA for p in ROOT.parents if (p / DATA).exists()), ROOT.parent / DATA)
"""``../shared`` beside the project (a worktree sits one level deeper)."""
CANDLES = 71_769
RUNS = int(os.environ.get("ROBSON_BENCH_BACKTEST_RUNS", "3"))
BREAKDOWN = os.environ.get("BENCH_BACKTEST_BREAKDOWN") == "1"
"""One more run timed per close time and per delivery (``bench/backtest_breakdown.py``)."""
CALLS = os.environ.get("BENCH_BACKTEST_CALLS") == "1"
"""One more run with every call counted, per close time and per delivery
(``bench/backtest_calls.py``): the same counts on any host."""
TARGET = 20_000
CENT = Decimal("0.01")


def _load(name: str) -> ModuleType:
    """The parity test's modules, by path (tests/ is not an installed package)."""
    path = ROOT / "tests" / "e2e" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"robson_bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _series() -> tuple[list[Bar], str]:
    if REAL.exists():
        return list(read_bars([REAL])), f"real {REAL.name}"
    start = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
    market = SyntheticMarket(7, "BTCUSDT", Timeframe.M5, start)
    return list(market.bars(CANDLES)), "seeded synthetic series"


def _config(text: str) -> object:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "robson.yaml"
        path.write_text(text)
        return load_config(path)


def _plain(bars: list[Bar], plain_loop: ModuleType) -> list[object]:
    candles = [plain_loop.Candle(b.open_ms, b.open, b.high, b.low, b.close) for b in bars]
    return candles


def _same_trades(result: RunResult, expected: list, first_ms: int, fee: Decimal) -> bool:  # type: ignore[type-arg]
    def index(when: datetime) -> int:
        return (int(when.timestamp() * 1000) - first_ms) // 300_000

    got = [(index(t.opened_at), index(t.occurred_at), t.entry_price, t.exit_price,
            t.exit_reason.value) for t in result.trades]
    want = [(t.entry_index, t.exit_index, t.entry_price, t.exit_price, t.exit_reason)
            for t in expected]
    pnl_ok = all(
        t.realized_pnl.quantize(CENT, ROUND_HALF_EVEN)
        == ((t.exit_price - t.entry_price) * t.quantity
            - (t.entry_price + t.exit_price) * t.quantity * fee).quantize(CENT, ROUND_HALF_EVEN)
        for t in result.trades)
    return got == want and pnl_ok


def run() -> list[Metric]:
    configure_logging("bench", level="WARNING", json=False)  # as `robson backtest` runs
    parity = plain_loop = _load("plain_loop")
    bars, source = _series()
    spec = backtest_spec(_config(parity.EMA_CONFIG))
    candles = _plain(bars, plain_loop)
    backtest_rates, plain_rates = [], []
    result: RunResult | None = None
    expected: list = []  # type: ignore[type-arg]
    for _ in range(RUNS):
        gc.collect()  # neither timing pays for a collection of the other's objects
        started = time.perf_counter()
        result = asyncio.run(run_backtest(spec, bars))
        backtest_rates.append(result.candles / (time.perf_counter() - started))
        gc.collect()
        started = time.perf_counter()
        expected = plain_loop.run(candles, parity.EMA_RULES)
        plain_rates.append(len(candles) / (time.perf_counter() - started))
    assert result is not None
    if BREAKDOWN:
        gc.collect()
        print("\n".join(breakdown.measure(spec, bars).lines()))
    if CALLS:
        gc.collect()
        print("\n".join(calls.measure(spec, bars).lines()))
    same = _same_trades(result, expected, bars[0].open_ms, parity.EMA_RULES.fee)
    rate, plain = median(backtest_rates), median(plain_rates)
    note = f"{source}, {len(bars):,} candles, {len(result.trades)} trades, median of {RUNS}"
    return [
        at_least("backtest.candles_per_s", rate, "candles/s", TARGET, note),
        info("backtest.plain_loop_candles_per_s", plain, "candles/s", "the parity test's loop"),
        info("backtest.ratio_to_plain_loop", rate / plain, "x",
             f"backtest ÷ plain loop: {rate / plain:.5f} (1/{plain / rate:.0f})"),
        Metric("backtest.trades_identical_to_plain_loop", 1.0 if same else 0.0, "bool", "== 1",
               same, "entry/exit candle, fills, reason; P&L to the cent"),
    ]
