"""robson.yaml and the risk rules: policies that would break the monthly bound are refused,
decision gets the gate's confidence threshold and the account's allow_short, and the market
context names each traded symbol's perpetual."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from robson_cli.config import ConfigError, default_config, load_config

BASE = """
accounts:
  - id: main
    risk: {risk}
traders:
  - id: t1
    account: main
    symbols: [BTCUSDT]
    timeframes: [5m]
    risk: {trader_risk}
    decision: {decision}
{extra}
"""


def config_text(risk: str = "{}", trader_risk: str = "{}", decision: str = "{}",
                extra: str = "") -> str:
    return BASE.format(risk=risk, trader_risk=trader_risk, decision=decision, extra=extra)


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "robson.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


def load(tmp_path: Path, text: str):
    path = tmp_path / "robson.yaml"
    path.write_text(text)
    return load_config(path)


def test_unit_below_risk_per_trade_is_refused_naming_both_fields(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, config_text(risk="{concurrency: {unit: 0.005}}"))
    assert "concurrency.unit" in problem and "sizing.risk_per_trade" in problem


def test_budget_not_equal_to_monthly_limit_is_refused(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, config_text(risk="{concurrency: {budget: 0.05}}"))
    assert "concurrency.budget" in problem and "monthly_loss.limit" in problem


def test_trader_risk_override_above_the_unit_is_refused(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, config_text(trader_risk="{risk_per_trade: 0.02}"))
    assert "traders[0].risk.risk_per_trade" in problem and "concurrency.unit" in problem


def test_decision_gets_the_gates_confidence_and_the_accounts_allow_short(tmp_path: Path) -> None:
    config = load(tmp_path, config_text(risk="{positions: {min_confidence: 0.75}}"))
    settings = config.decision_settings(config.traders[0])
    assert settings.min_confidence == Decimal("0.75") and settings.allow_short is False
    trader_own = load(tmp_path, config_text(trader_risk="{min_confidence: 0.8}"))
    assert trader_own.decision_settings(trader_own.traders[0]).min_confidence == Decimal("0.8")


def test_a_second_confidence_threshold_for_decision_is_refused(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, config_text(decision="{min_confidence: 0.5}"))
    assert "traders[0].decision.min_confidence" in problem and "set it once" in problem


def test_market_context_names_the_perpetual_of_a_traded_symbol(tmp_path: Path) -> None:
    config = load(tmp_path, config_text(extra="market_context: {BTCUSDT: BTCUSDT}"))
    assert config.context_symbols() == "BTCUSDT=BTCUSDT"
    [problem] = problems(tmp_path, config_text(extra="market_context: {SOLUSDT: SOLUSDT}"))
    assert "market_context.SOLUSDT" in problem


def test_shipped_config_collects_context_for_every_traded_symbol() -> None:
    config = default_config()
    assert set(config.market_context) == set(config.feed_symbols())
