"""The backtest runs the config as `robson up` applies it (decision settings from the risk
section too), refuses symbols the simulated venue cannot trade, and the token verbs refuse bad
input with a clear error, not a traceback."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from robson_backtest.data import read_bars
from robson_backtest.engine import run_backtest
from robson_cli.config import load_config
from robson_cli.config.backtest import backtest_spec

from .test_backtest_command import CONFIG, _klines

GATE_THRESHOLD_ONLY = CONFIG.replace(
    "    starting_balances: {USDT: 5000}\n",
    "    starting_balances: {USDT: 5000}\n    risk: {positions: {min_confidence: 0}}\n")


def test_backtest_decision_gets_the_gates_min_confidence_and_the_accounts_allow_short(
        tmp_path: Path) -> None:
    """`robson up` gives decision ``config.decision_settings(trader)``: the gate's one
    min_confidence and the account's allow_short. The backtest must decide the same way."""
    path = tmp_path / "robson.yaml"
    path.write_text(GATE_THRESHOLD_ONLY)
    config = load_config(path)
    spec = backtest_spec(config)
    assert spec.traders[0].decision == config.decision_settings(config.traders[0])
    assert spec.traders[0].decision.min_confidence == Decimal(0)
    assert spec.traders[0].decision.allow_short is False


def test_setting_min_confidence_under_risk_or_also_under_decision_trades_the_same(
        tmp_path: Path) -> None:
    """Both files are valid and `robson up` runs them identically."""
    data = list(read_bars([_klines(tmp_path)]))
    results = []
    for text in (GATE_THRESHOLD_ONLY,
                 GATE_THRESHOLD_ONLY.replace("decision: {", "decision: {min_confidence: 0, ")):
        path = tmp_path / "robson.yaml"
        path.write_text(text)
        spec = backtest_spec(load_config(path))
        results.append(asyncio.run(run_backtest(spec, data)))
    assert len(results[1].trades) > 0
    assert [t.model_dump() for t in results[0].trades] == [t.model_dump() for t in results[1].trades]


def test_a_symbol_the_simulated_venue_cannot_trade_is_refused_naming_the_field(
        tmp_path: Path) -> None:
    """PEPEUSDT passes the schema, but paper has no rules for it: every entry fails
    UNKNOWN_SYMBOL (logged at INFO, hidden), and the run reported 0 trades, 0 dead letters."""
    from robson_cli.main import app
    from typer.testing import CliRunner

    config = tmp_path / "robson.yaml"
    config.write_text(GATE_THRESHOLD_ONLY.replace("symbols: [BTCUSDT]", "symbols: [BTCUSDT, PEPEUSDT]"))
    result = CliRunner().invoke(app, ["backtest", "--config", str(config), "--data",
                                      str(_klines(tmp_path)), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "traders[0].symbols[1]" in result.output and "PEPEUSDT" in result.output


def test_token_revoke_of_a_malformed_token_is_a_clear_error_not_a_traceback() -> None:
    from robson_cli.main import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["token", "revoke", "not.a.token"])
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_an_enormous_token_ttl_is_refused_as_a_bad_parameter() -> None:
    import pytest
    import typer
    from robson_cli.commands.token import parse_ttl

    for text in ("9999999999d", "99999999999999999999s"):
        with pytest.raises(typer.BadParameter):
            parse_ttl(text)
