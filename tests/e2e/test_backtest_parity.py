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
from .harness import CONFIG_YAML, collect
from .market import FIVE_MINUTES_MS, SERIES, START_MS, klines

CENT = Decimal("0.01")
EMA_CONFIG, EMA_RULES = plain_loop.EMA_CONFIG, plain_loop.EMA_RULES
WATCHES_OFF = CONFIG_YAML.replace(
    "      daily_loss: {limit: 0.5}\n",
    "      daily_loss: {enabled: false}\n      drawdown: {enabled: false}\n")
"""The platform's config with the account's loss watches off (they follow prices tick by tick)."""
assert WATCHES_OFF != CONFIG_YAML


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
            t.quantity, t.exit_reason.value, t.realized_pnl.quantize(CENT)) for t in result.trades]
    want = [(t.entry_index, t.exit_index, t.entry_price, t.exit_price, t.quantity, t.exit_reason,
             t.pnl.quantize(CENT)) for t in expected]
    assert len(want) > 20 and {t[5] for t in want} == {"STOP_LOSS", "TAKE_PROFIT", "AI_CLOSE"}
    assert got == want
    assert result.dead_letters == []


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("watches", ["on", "off"])
async def test_backtest_equals_the_distributed_lockstep_replay_to_the_cent(
    platform_factory, e2e_bus, dataset: Path, tmp_path: Path, watches: str  # type: ignore[no-untyped-def]
) -> None:
    """The loss watches on (the default): while a position is open, every tick goes out. Off:
    a close time whose range no resting stop or take-profit can reach goes out as its candles
    alone (as the backtest sends it). Either way the trades, fills and P&L are the backtest's
    to the cent."""
    config_yaml = CONFIG_YAML if watches == "on" else WATCHES_OFF
    platform = await platform_factory(config_yaml)
    await platform.start_feed()
    await platform.wait_finished(e2e_bus)
    if watches == "off":  # (on, ticks are left out only where nothing is open or resting)
        feed = await platform.get("signal", "/feed")
        assert feed["ticks"] < 4 * feed["candles"]
    await _same_as_the_backtest(platform, e2e_bus, config_yaml, dataset, tmp_path)


async def _same_as_the_backtest(platform, e2e_bus, config_yaml: str, dataset: Path,  # type: ignore[no-untyped-def]
                                tmp_path: Path) -> None:
    live = await collect(platform, e2e_bus)
    result = await asyncio.to_thread(run_config, config_yaml, dataset, tmp_path)

    def closed(rows: list[tuple]) -> list[tuple]:  # type: ignore[type-arg]
        return sorted(rows)

    distributed = closed([
        (p["position_id"], p["symbol"], p["side"], Decimal(p["quantity"]), Decimal(p["entry_price"]),
         Decimal(p["exit_price"]), p["exit_reason"], Decimal(p["realized_pnl"]).quantize(CENT),
         Decimal(p["fees"]).quantize(CENT))
        for p in live.positions if p["status"] == "CLOSED"])
    in_process = closed([
        (t.position_id, t.symbol, t.side.value, t.quantity, t.entry_price, t.exit_price,
         t.exit_reason.value, t.realized_pnl.quantize(CENT), t.fees.quantize(CENT))
        for t in result.trades])
    assert len(distributed) >= 3
    assert in_process == distributed
    assert sorted((f["order_id"], Decimal(f["price"]), Decimal(f["quantity"]), Decimal(f["fee"]))
                  for f in live.fills) == sorted(
        (f.order_id, f.fill.price, f.fill.quantity, f.fill.fee) for f in result.fills)
    still_open = {p["position_id"] for p in live.positions if p["status"] in ("OPEN", "PARTIALLY_CLOSED")}
    assert result.open_positions == len(still_open)
    assert result.dead_letters == [] and live.dead_letters == []
