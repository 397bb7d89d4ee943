"""robson.yaml validation: every problem is refused with the field it concerns."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from robson_cli.config import ConfigError, default_config, load_config

REPO_ROOT = Path(__file__).resolve().parents[3]

VALID = """
accounts:
  - id: main
    starting_balances: {USDT: 2500.50}
    risk: {sizing: {risk_per_trade: 0.02}, concurrency: {unit: 0.02}}
traders:
  - id: t1
    account: main
    strategy: donchian_breakout
    params: {period: 30}
    symbols: [BTCUSDT]
    timeframes: [1m, 5m]
    decision: {engine: rules, min_strength: 0.65}
    management: {trailing_pct: 1.5}
"""


def write(tmp_path: Path, text: str, name: str = "robson.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return caught.value.problems


def test_shipped_robson_yaml_is_the_builtin_default() -> None:
    shipped = load_config(REPO_ROOT / "robson.yaml")
    assert shipped == default_config()
    assert [a.mode for a in shipped.accounts] == ["paper"]
    assert shipped.traders[0].strategy == "ema_cross"
    assert shipped.feed_symbols() == ["BTCUSDT", "ETHUSDT"] and shipped.feed_timeframes() == ["5m"]


def test_yaml_numbers_are_read_as_exact_decimals(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID))
    assert config.accounts[0].starting_balances == {"USDT": Decimal("2500.50")}
    assert config.accounts[0].risk.sizing.risk_per_trade == Decimal("0.02")
    assert config.traders[0].decision.min_strength == Decimal("0.65")
    assert config.traders[0].management.trailing_pct == Decimal("1.5")
    assert config.traders[0].params == {"period": 30}


def test_toml_file_with_the_same_content_is_accepted(tmp_path: Path) -> None:
    toml = """
[[accounts]]
id = "main"
starting_balances = { USDT = 2500.50 }
[[traders]]
id = "t1"
account = "main"
symbols = ["BTCUSDT"]
timeframes = ["5m"]
"""
    config = load_config(write(tmp_path, toml, "robson.toml"))
    assert config.accounts[0].starting_balances["USDT"] == Decimal("2500.50")
    assert config.traders[0].strategy == "ema_cross"


def test_bad_symbol_is_refused_naming_its_position(tmp_path: Path) -> None:
    text = VALID.replace("symbols: [BTCUSDT]", "symbols: [BTCUSDT, BTC-USD]")
    assert any(p.startswith("traders[0].symbols[1]: 'BTC-USD' is not a symbol")
               for p in problems(tmp_path, text))


def test_unknown_field_is_refused_naming_it(tmp_path: Path) -> None:
    text = VALID.replace("    account: main", "    account: main\n    leverage: 10")
    assert problems(tmp_path, text) == ["traders[0].leverage: unknown field (not part of the schema)"]


def test_trader_of_undeclared_account_is_refused(tmp_path: Path) -> None:
    text = VALID.replace("account: main", "account: other")
    [problem] = problems(tmp_path, text)
    assert problem.startswith("traders[0].account: 'other' is not declared under accounts")


def test_risk_override_out_of_range_is_refused_with_the_services_rule(tmp_path: Path) -> None:
    text = VALID.replace("risk_per_trade: 0.02", "risk_per_trade: 0.5")
    [problem] = problems(tmp_path, text)
    assert problem.startswith("accounts[0].risk.sizing.risk_per_trade: must be greater than 0 and at most 0.1")


def test_risk_allow_short_contradicting_the_accounts_is_refused(tmp_path: Path) -> None:
    text = VALID.replace("risk: {sizing: {risk_per_trade: 0.02}",
                         "risk: {allow_short: true, sizing: {risk_per_trade: 0.02}")
    [problem] = problems(tmp_path, text)
    assert problem.startswith("accounts[0]") and "risk.allow_short contradicts allow_short" in problem


def test_account_allow_short_is_the_gates_too(tmp_path: Path) -> None:
    [account] = load_config(write(tmp_path, VALID)).accounts
    assert account.allow_short is False and account.gate_policy.allow_short is False
    assert account.gate_policy.sizing == account.risk.sizing


def test_strategy_params_are_checked_against_the_strategy(tmp_path: Path) -> None:
    text = VALID.replace("params: {period: 30}", "params: {period: 1}")
    [problem] = problems(tmp_path, text)
    assert problem.startswith("traders[0].params: invalid params for donchian_breakout: period")


def test_unknown_strategy_is_refused_listing_the_known_ones(tmp_path: Path) -> None:
    text = VALID.replace("strategy: donchian_breakout", "strategy: moon").replace("    params: {period: 30}\n", "")
    [problem] = problems(tmp_path, text)
    assert "traders[0].strategy: unknown strategy 'moon'" in problem and "ema_cross" in problem


def test_unknown_decision_engine_and_timeframe_are_both_reported(tmp_path: Path) -> None:
    text = VALID.replace("engine: rules", "engine: gpt").replace("[1m, 5m]", "[1m, 7m]")
    found = problems(tmp_path, text)
    assert any(p.startswith("traders[0].decision.engine:") and "'gpt'" in p for p in found)
    assert any(p.startswith("traders[0].timeframes[1]:") and "'7m'" in p for p in found)


def test_duplicate_trader_ids_are_refused(tmp_path: Path) -> None:
    trader = VALID.split("traders:\n")[1]
    [problem] = problems(tmp_path, VALID + trader)
    assert problem == "traders[1].id: 't1' is declared twice"


def test_missing_accounts_section_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "traders: []\n") == ["accounts: required field is missing"]


def test_unknown_account_mode_is_refused(tmp_path: Path) -> None:
    text = VALID.replace("  - id: main\n", "  - id: main\n    mode: margin\n")
    [problem] = problems(tmp_path, text)
    assert problem.startswith("accounts[0].mode:") and "'margin'" in problem


def test_broken_yaml_is_refused_with_the_file_name(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "accounts: [\n")
    assert "robson.yaml: not valid YAML" in problem


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


def test_cross_references_are_reported_together_with_field_errors(tmp_path: Path) -> None:
    trader = VALID.split("traders:\n")[1]
    account = "  - id: main\n"
    text = (VALID.replace("account: main", "account: mian").replace("[BTCUSDT]", "[BTC-USD]")
            .replace("traders:\n", account + "traders:\n") + trader)
    found = problems(tmp_path, text)
    assert any(p.startswith("traders[0].symbols[0]: 'BTC-USD' is not a symbol") for p in found)
    assert "accounts[1].id: 'main' is declared twice" in found
    assert "traders[1].id: 't1' is declared twice" in found
    assert any(p.startswith("traders[0].account: 'mian' is not declared under accounts") for p in found)
    assert len(found) == len(set(found))
