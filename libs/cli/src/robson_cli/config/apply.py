"""Apply a RobsonConfig through the services' own HTTP APIs.

Each setting is read first and written (PUT) only when it differs, so applying the same file
twice changes nothing: no strategy is rebound (which would reset its indicators) and no
admin entry is logged. Services missing from ``urls`` are skipped."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from robson_decision.domain.settings import TraderSettings
from robson_entry_gate.domain.policy import AccountPolicy, TraderPolicy
from robson_position.domain.policy import ManagementPolicy

from robson_cli.client import ServiceClient, Services
from robson_cli.config.notifications import notification_steps
from robson_cli.config.schema import AccountConfig, RobsonConfig, TraderConfig

Step = Callable[[ServiceClient], str | None]
"""Reads, writes if needed; returns what it did, or None when it was already so."""


def apply_config(config: RobsonConfig, urls: dict[str, str], token: str | None = None) -> list[str]:
    """Raises robson_cli.client.ServiceError with the service's message on a refused PUT."""
    done: list[str] = []
    with Services(urls, token) as services:
        for service, step in _steps(config):
            if service in urls and (what := step(services[service])):
                done.append(f"{service}: {what}")
        if "signal" in urls:
            done += [f"signal: {what}" for what in _retire_removed(services["signal"], config)]
    return done


def _retire_removed(client: ServiceClient, config: RobsonConfig) -> list[str]:
    """Declarative: a bound trader the file no longer names is disabled (its open positions stay
    managed; nothing is deleted, so putting it back re-enables it)."""
    wanted = {t.id for t in config.traders}
    done = []
    for bound in client.get("/traders"):
        if bound["trader_id"] in wanted or not bound.get("enabled", True):
            continue
        client.put(f"/traders/{bound['trader_id']}", {
            k: bound[k] for k in ("account_id", "strategy", "params", "symbols", "timeframes")
        } | {"enabled": False})
        done.append(f"trader {bound['trader_id']} disabled (no longer in the configuration)")
    return done


def _steps(config: RobsonConfig) -> list[tuple[str, Step]]:
    steps: list[tuple[str, Step]] = []
    for account in config.accounts:
        steps += [("paper", lambda c, a=account: _paper_account(c, a)),
                  ("position", lambda c, a=account: _position_account(c, a)),
                  ("entry_gate", lambda c, a=account: _gate_account(c, a))]
    for trader in config.traders:
        steps += [("entry_gate", lambda c, t=trader: _gate_trader(c, t)),
                  ("position", lambda c, t=trader: _management(c, t)),
                  ("decision", lambda c, t=trader: _decision(c, t, config.decision_settings(t))),
                  ("signal", lambda c, t=trader: _binding(c, t))]
    return steps + notification_steps(config)


def _paper_account(client: ServiceClient, account: AccountConfig) -> str | None:
    current = client.get(f"/accounts/{account.id}", missing_ok=True)
    if current is not None:
        balances = {k: Decimal(v) for k, v in current["starting_balances"].items()}
        if balances == account.starting_balances and current["allow_short"] == account.allow_short:
            return None
    client.put(f"/accounts/{account.id}", {
        "balances": {k: format(v, "f") for k, v in account.starting_balances.items()},
        "allow_short": account.allow_short,
    })
    money = ", ".join(f"{k} {format(v, 'f')}" for k, v in account.starting_balances.items())
    return f"account {account.id} {'created' if current is None else 'updated'} ({money})"


def _position_account(client: ServiceClient, account: AccountConfig) -> str | None:
    mode = account.mode.upper()
    if client.get(f"/accounts/{account.id}")["mode"] == mode:
        return None
    client.put(f"/accounts/{account.id}", {"mode": mode})
    return f"account {account.id} trades {mode}"


def _gate_account(client: ServiceClient, account: AccountConfig) -> str | None:
    current, wanted = client.get(f"/policies/{account.id}"), account.gate_policy
    if current["configured"] and _same(AccountPolicy, current["policy"], wanted):
        return None
    client.put(f"/policies/{account.id}", _json(wanted))
    return f"risk policy of account {account.id} set"


def _gate_trader(client: ServiceClient, trader: TraderConfig) -> str | None:
    path = f"/policies/{trader.account}/traders/{trader.id}"
    current = client.get(path)
    if current["configured"] and _same(TraderPolicy, current["policy"], trader.risk):
        return None
    client.put(path, _json(trader.risk))
    return f"risk overrides of trader {trader.id} set"


def _management(client: ServiceClient, trader: TraderConfig) -> str | None:
    path = f"/traders/{trader.id}/policy"
    current = client.get(path)
    if current.get("account_id") == trader.account and \
            _same(ManagementPolicy, current["policy"], trader.management):
        return None  # the account too: account-scoped tokens act on traders position knows
    client.put(f"{path}?account_id={trader.account}", _json(trader.management))
    return f"management policy of trader {trader.id} set"


def _decision(client: ServiceClient, trader: TraderConfig, wanted: TraderSettings) -> str | None:
    path = f"/traders/{trader.id}/settings"
    if _same(TraderSettings, client.get(path), wanted):
        return None
    client.put(path, _json(wanted))
    return (f"trader {trader.id} decides with {wanted.engine.value} "
            f"(min confidence {wanted.min_confidence}, shorts {'on' if wanted.allow_short else 'off'})")


def _binding(client: ServiceClient, trader: TraderConfig) -> str | None:
    wanted = {"account_id": trader.account, "strategy": trader.strategy, "params": trader.params,
              "symbols": list(trader.symbols), "timeframes": [tf.value for tf in trader.timeframes],
              "enabled": trader.enabled}
    current = client.get(f"/traders/{trader.id}", missing_ok=True)
    if current is not None and all(current.get(k) == v for k, v in wanted.items()):
        return None
    client.put(f"/traders/{trader.id}", wanted)
    series = ", ".join(f"{s} {tf}" for s in wanted["symbols"] for tf in wanted["timeframes"])
    return f"trader {trader.id} runs {trader.strategy} on {series}"


def _same(model: type[BaseModel], current: Any, wanted: BaseModel) -> bool:
    try:
        return model.model_validate(current) == wanted
    except ValueError:
        return False


def _json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
