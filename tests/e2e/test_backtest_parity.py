"""`robson backtest` against two references on the same seeded data and config:
(b) the EMA-cross rules as an independent plain-Python loop (``plain_loop.py``), and
(a) the distributed platform — six services on NATS + Postgres in lockstep replay."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from robson_backtest.data import read_bars
from robson_backtest.engine import RunResult, run_backtest
from robson_cli.config import load_config
from robson_cli.config.backtest import backtest_spec

from . import plain_loop
from .market import FIVE_MINUTES_MS, SERIES, START_MS, klines

CENT = Decimal("0.01")
EMA_CONFIG, EMA_RULES = plain_loop.EMA_CONFIG, plain_loop.EMA_RULES


def ema_dataset(directory: Path, candles: int, seed: int = 5) -> Path:
    path = directory / "BTCUSDT-5m-2024-01.csv"
    path.write_text("\n".join(klines(SERIES[0], seed, candles)) + "\n")
    return path


def run_config(yaml_text: str, data: Path, tmp: Path) -> RunResult:
    config = tmp / "robson.yaml"
    config.write_text(yaml_text)
    spec = backtest_spec(load_config(config))
    return asyncio.run(run_backtest(spec, list(read_bars([data]))))


def as_plain(path: Path) -> list[plain_loop.Candle]:
    rows = path.read_text().split()[1:]
    out = []
    for row in rows:
        t, o, h, lo, c, _ = row.split(",")
        out.append(plain_loop.Candle(int(t), Decimal(o), Decimal(h), Decimal(lo), Decimal(c)))
    return out


def candle_index(when: object) -> int:
    ms = int(when.timestamp() * 1000)  # type: ignore[attr-defined]
    return (ms - START_MS) // FIVE_MINUTES_MS


def test_backtest_trades_equal_the_plain_loop_of_the_ema_cross_rules(tmp_path: Path) -> None:
    data = ema_dataset(tmp_path, 3000)
    result = run_config(EMA_CONFIG, data, tmp_path)
    expected = plain_loop.run(as_plain(data), EMA_RULES)
    got = [(candle_index(t.opened_at), candle_index(t.occurred_at), t.entry_price, t.exit_price,
            t.exit_reason.value) for t in result.trades]
    want = [(t.entry_index, t.exit_index, t.entry_price, t.exit_price, t.exit_reason)
            for t in expected]
    assert len(want) > 20 and {t[4] for t in want} == {"STOP_LOSS", "TAKE_PROFIT", "AI_CLOSE"}
    assert got == want
    # P&L to the cent: the rules' arithmetic on the quantity the gate approved
    for trade in result.trades:
        assert trade.realized_pnl.quantize(CENT) == plain_loop.pnl(
            trade.entry_price, trade.exit_price, trade.quantity, EMA_RULES.fee).quantize(CENT)
    # before anything is realized, the size is the rules' (cash × share ÷ signal close)
    assert result.trades[0].quantity == expected[0].quantity
    assert result.dead_letters == []


@pytest.mark.xfail(strict=True, reason=(
    "entry_gate sizes from the last BalanceSnapshot's equity minus the open P&L it then saw; "
    "paper's snapshot after an exit already holds that P&L as cash, and PositionClosed comes "
    "after it, so the next entry is sized as if the last trade's P&L had not happened "
    "(domain/projection.py on_snapshot/on_closed)"))
def test_sizing_after_a_closed_trade_uses_the_cash_it_left(tmp_path: Path) -> None:
    data = ema_dataset(tmp_path, 3000)
    result = run_config(EMA_CONFIG, data, tmp_path)
    expected = plain_loop.run(as_plain(data), EMA_RULES)
    assert [t.quantity for t in result.trades] == [t.quantity for t in expected]
