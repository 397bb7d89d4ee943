"""`robson backtest` as a user runs it: a config and kline files in, report files out; an
invalid combination refused naming the field, with nothing run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from robson_cli.main import app
from robson_contracts import Timeframe
from robson_signal.domain.bars import dt_to_ms
from robson_signal.domain.klines_csv import format_archive_row
from robson_signal.domain.synthetic import SyntheticMarket
from typer.testing import CliRunner

CONFIG = """
accounts:
  - id: main
    starting_balances: {USDT: 5000}
traders:
  - id: ema
    account: main
    strategy: ema_cross
    params: {fast: 5, slow: 13}
    symbols: [BTCUSDT]
    timeframes: [5m]
    decision: {min_strength: 0, stop_mode: PERCENT, stop_pct: 1, tp_pcts: [2], tp_fractions: [1]}
venue: {taker_fee: 0.0005, maker_fee: 0.0002, slippage: none}
backtest: {from: 2024-01-02, to: 2024-01-04}
"""


def _klines(tmp: Path) -> Path:
    market = SyntheticMarket(4, "BTCUSDT", Timeframe.M5, dt_to_ms(datetime(2024, 1, 1, tzinfo=UTC)))
    path = tmp / "BTCUSDT-5m-2024-01.csv"
    path.write_text("\n".join(format_archive_row(b) for b in market.bars(1500)) + "\n")
    return path


def test_backtest_command_writes_the_report_for_the_configured_period(tmp_path: Path) -> None:
    config = tmp_path / "robson.yaml"
    config.write_text(CONFIG)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["backtest", "--config", str(config), "--data",
                                      str(_klines(tmp_path)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "return" in result.output and "report.html" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["period"]["start"] == "2024-01-02T00:00:00Z"
    assert report["period"]["candles"] == 2 * 288  # two days of 5m candles
    assert report["venue"]["taker_fee"] == "0.0005" and report["summary"]["starting_equity"] == "5000"
    assert (out / "trades.csv").read_text().startswith(
        "trader,symbol,side,entry_time,exit_time,entry_price,exit_price,quantity,exit_reason,"
        "realized_pnl,fees")


def test_backtest_command_refuses_a_percent_stop_without_its_percent(tmp_path: Path) -> None:
    config = tmp_path / "robson.yaml"
    config.write_text(CONFIG.replace("stop_pct: 1, ", ""))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["backtest", "--config", str(config), "--data",
                                      str(_klines(tmp_path)), "--out", str(out)])
    assert result.exit_code == 2
    assert "traders[0].decision" in result.output and "stop_pct" in result.output
    assert not out.exists()


def test_backtest_command_refuses_slippage_bps_without_fixed_slippage(tmp_path: Path) -> None:
    config = tmp_path / "robson.yaml"
    config.write_text(CONFIG.replace("slippage: none", "slippage: volatility, slippage_bps: 3"))
    result = CliRunner().invoke(app, ["backtest", "--config", str(config), "--data",
                                      str(_klines(tmp_path))])
    assert result.exit_code == 2 and "venue" in result.output and "slippage_bps" in result.output


def test_levels_from_fill_on_a_live_account_is_refused_naming_the_field(tmp_path: Path) -> None:
    from robson_cli.config import ConfigError, load_config

    config = tmp_path / "robson.yaml"
    config.write_text(CONFIG.replace("starting_balances: {USDT: 5000}",
                                     "starting_balances: {USDT: 5000}\n    mode: live")
                      .replace("timeframes: [5m]", "timeframes: [5m]\n    management: {levels_from: fill}"))
    try:
        load_config(config)
    except ConfigError as exc:
        assert "traders[0].management.levels_from" in str(exc)
    else:
        raise AssertionError("a live account with levels_from: fill was accepted")


def test_backtest_command_refuses_an_unusable_llm_calls_file_naming_its_line(tmp_path: Path) -> None:
    config, calls = tmp_path / "robson.yaml", tmp_path / "calls.jsonl"
    config.write_text(CONFIG)
    calls.write_text('{"prompt_hash": "abc", "status": "OK", "raw_answer": "{}"}\n{"status": "OK"}\n')
    result = CliRunner().invoke(app, ["backtest", "--config", str(config), "--data",
                                      str(_klines(tmp_path)), "--llm-calls", str(calls),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "line 2: prompt_hash" in result.output and not (tmp_path / "out").exists()


def test_an_llm_trader_without_its_recorded_answer_is_reported_not_asked(tmp_path: Path) -> None:
    config, calls, out = tmp_path / "robson.yaml", tmp_path / "calls.json", tmp_path / "out"
    config.write_text(CONFIG.replace("decision: {", "decision: {engine: llm, model: m1, "))
    calls.write_text('[{"prompt_hash": "not-this-one", "status": "OK", "raw_answer": "{}"}]')
    result = CliRunner().invoke(app, ["backtest", "--config", str(config), "--data",
                                      str(_klines(tmp_path)), "--llm-calls", str(calls),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["dead_letter_count"] > 0 and report["summary"]["trades"] == 0
    assert {d["reason_code"] for d in report["dead_letters"]} == {"REPLAY_RECORD_MISSING"}


def test_robson_up_gives_paper_the_files_venue_except_what_the_environment_sets() -> None:
    from robson_cli.config.backtest import VenueConfig

    venue = VenueConfig(taker_fee="0.0005", slippage="none", market_fill="last_price")
    env = venue.paper_env({"ROBSON_PAPER_MAKER_FEE": "0.0002"})
    assert env == {"ROBSON_PAPER_TAKER_FEE": "0.0005", "ROBSON_PAPER_SLIPPAGE_MODEL": "fixed",
                   "ROBSON_PAPER_SLIPPAGE_BPS": "0", "ROBSON_PAPER_MARKET_FILL": "last_price"}
