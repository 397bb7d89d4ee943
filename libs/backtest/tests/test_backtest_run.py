"""The backtest end to end in one process: account-level rules across traders and symbols,
determinism, and the report files."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

from robson_backtest.engine import RunResult, run_backtest
from robson_backtest.outputs import TRADE_COLUMNS, write_all
from robson_contracts import PositionClosed

from .helpers import candles, policy, spec, trader

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def _run(s, bars) -> RunResult:  # type: ignore[no-untyped-def]
    return asyncio.run(run_backtest(s, bars))


def _max_open_at_once(trades: list[PositionClosed]) -> int:
    edges = sorted([(t.opened_at, 1) for t in trades] + [(t.occurred_at, -1) for t in trades],
                   key=lambda e: (e[0], e[1]))
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_two_traders_on_two_symbols_share_the_accounts_position_limit() -> None:
    bars = candles(SYMBOLS)
    traders = (trader("fast", ("BTCUSDT", "ETHUSDT")), trader("slow", ("BTCUSDT", "ETHUSDT"), fast=8, slow=21))
    free = _run(spec(traders), bars)
    capped = _run(spec(traders, policy(positions={"max_per_trader": 1, "max_per_account": 1,
                                                  "min_confidence": 0})), bars)
    assert {t.trader_id for t in free.trades} == {"fast", "slow"}
    assert {t.symbol for t in free.trades} == set(SYMBOLS)
    assert _max_open_at_once(free.trades) > 1  # without the account limit they overlap
    assert _max_open_at_once(capped.trades) == 1
    assert len(capped.trades) < len(free.trades)


def test_the_same_inputs_give_byte_identical_reports(tmp_path: Path) -> None:
    bars = candles(["BTCUSDT"], 800)
    s = spec((trader("t1", ("BTCUSDT",)),))
    first, second = tmp_path / "a", tmp_path / "b"
    write_all(_run(s, bars), first)
    write_all(_run(s, bars), second)
    for name in ("trades.csv", "equity.csv", "report.json", "report.html"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_report_files_carry_the_trade_list_equity_and_figures(tmp_path: Path) -> None:
    result = _run(spec((trader("t1", ("BTCUSDT",)),)), candles(["BTCUSDT"], 1200))
    doc = write_all(result, tmp_path)
    with (tmp_path / "trades.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == TRADE_COLUMNS and len(rows) == len(result.trades) > 3
    assert rows[0]["entry_time"].endswith("Z") and rows[0]["exit_time"] >= rows[0]["entry_time"]
    equity = (tmp_path / "equity.csv").read_text().splitlines()
    assert len(equity) == result.candles + 1
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved == json.loads(json.dumps(doc))
    summary = saved["summary"]
    assert summary["trades"] == len(rows)
    assert summary["fees"] == str(sum((t.fees for t in result.trades), start=0))
    html = (tmp_path / "report.html").read_text()
    assert "<svg" in html and "Per exit reason" in html and "Per month" in html
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_levels_measured_from_the_fill_put_take_profits_at_their_percent_of_the_fill() -> None:
    """With slippage the entry fills away from the signal candle's close: take-profits measured
    from the fill sit at 2% of the fill, those measured from the signal (the default) at 2% of
    the signal's close, never at 2% of the fill."""
    from dataclasses import replace
    from decimal import Decimal

    from robson_paper.domain import EngineConfig
    from robson_paper.domain.slippage import FixedBps
    from robson_position.domain.policy import ManagementPolicy

    tick, two = Decimal("0.01"), Decimal("1.02")
    bars = candles(["BTCUSDT"], 1200)
    signal_close = {b.close_ms: b.close for b in bars}
    base = trader("t1", ("BTCUSDT",))
    from_fill = replace(base, management=ManagementPolicy(levels_from="fill"))
    venue = EngineConfig(slippage=FixedBps(Decimal(20)))
    signal_run = _run(replace(spec((base,)), venue=venue), bars)
    fill_run = _run(replace(spec((from_fill,)), venue=venue), bars)

    def take_profits(result: RunResult) -> list:  # type: ignore[type-arg]
        return [t for t in result.trades if t.exit_reason.value == "TAKE_PROFIT"]

    def of_the_signal(t) -> Decimal:  # type: ignore[no-untyped-def]
        return (signal_close[int(t.opened_at.timestamp() * 1000)] * two).quantize(tick)

    assert take_profits(fill_run) and take_profits(signal_run)
    assert all(t.exit_price == (t.entry_price * two).quantize(tick) for t in take_profits(fill_run))
    assert all(t.exit_price == of_the_signal(t) != (t.entry_price * two).quantize(tick)
               for t in take_profits(signal_run))
    for t in fill_run.trades:
        if t.exit_reason.value == "STOP_LOSS":  # at the stop, or below it on a gap
            assert t.exit_price <= (t.entry_price * Decimal("0.99")).quantize(tick)


def test_a_run_collects_garbage_less_often_and_restores_the_collector_after() -> None:
    import gc

    from robson_backtest.engine import YOUNG_COLLECTION_THRESHOLD

    before = gc.get_threshold()
    during: list[tuple[int, int, int]] = []
    asyncio.run(run_backtest(spec((trader("fast", ("BTCUSDT",)),)), candles(["BTCUSDT"])[:50],
                             progress=lambda _: during.append(gc.get_threshold())))
    assert during and all(t[0] == YOUNG_COLLECTION_THRESHOLD for t in during)
    assert gc.get_threshold() == before
