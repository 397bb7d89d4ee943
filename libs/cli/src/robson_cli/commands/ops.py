"""Operator commands over the services' HTTP APIs: read (positions, decisions, gate,
performance) and act (close, close-all, pause, resume)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer

from robson_cli.client import ServiceError, Services
from robson_cli.commands.common import (
    JsonFlag,
    Limit,
    console,
    not_found,
    pnl,
    print_json,
    running,
    service_errors,
    services,
    table,
)
from robson_cli.fmt import money, pct, qty, when
from robson_cli.report import HEADLINE, performance

app = typer.Typer()
Account = Annotated[str | None, typer.Option("--account", "-a", help="account id")]
Trader = Annotated[str | None, typer.Option("--trader", "-t", help="trader id")]


@app.command()
@service_errors
def decisions(trader: Trader = None, limit: Limit = 50, as_json: JsonFlag = False) -> None:
    """Recent trade decisions (decision service), newest first."""
    with services() as svc:
        if trader:
            known_trader(svc, trader)
        found = svc["decision"].get("/decisions", {"trader_id": trader, "limit": limit})
    found = _newest_first(found, "created_at", "occurred_at")
    if as_json:
        return print_json(found)
    console.print(table(f"decisions ({len(found)})", (
        "time", "trader", "symbol", "kind", "engine", "status", "reason", "reasoning"), (
        (when(d["occurred_at"]), d["trader_id"], d["symbol"], d["kind"], d["engine"], d["status"],
         d["reason_code"], d.get("reasoning") or "") for d in found)))


@app.command("model-calls")
@service_errors
def model_calls(trader: Trader = None, limit: Limit = 50, as_json: JsonFlag = False) -> None:
    """The LLM calls decision made (admin), newest first. `--json > calls.json` is what
    `robson backtest --llm-calls calls.json` replays an LLM trader from."""
    with services() as svc:
        if trader:
            known_trader(svc, trader)
        found = svc["decision"].get("/model-calls", {"trader_id": trader, "limit": limit})
    if as_json:
        return print_json(found)
    console.print(table(f"model calls ({len(found)})", (
        "time", "trader", "decision", "model", "status", "latency ms", "prompt"), (
        (when(c["created_at"]), c["trader_id"], c["decision_id"], c["model"], c["status"],
         c.get("latency_ms") or "", (c["prompt_hash"] or "")[:12]) for c in found)))


def _newest_first(items: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    def key(item: dict[str, Any]) -> str:
        return next((str(item[k]) for k in keys if item.get(k)), "")
    return sorted(items, key=key, reverse=True)


def known_trader(svc: Services, trader: str) -> None:
    if svc["signal"].get(f"/traders/{trader}", missing_ok=True) is None:
        bound = ", ".join(t["trader_id"] for t in svc["signal"].get("/traders")) or "none"
        not_found(f"unknown trader {trader!r} (bound traders: {bound})")


def known_account(svc: Services, account: str) -> None:
    if svc["paper"].get(f"/accounts/{account}", missing_ok=True) is None:
        known = ", ".join(a["account_id"] for a in svc["paper"].get("/accounts")) or "none"
        not_found(f"unknown account {account!r} (accounts: {known})")


def _accounts(account: str | None) -> list[str]:
    if account:
        return [account]
    listed = running().get("accounts")
    if listed:
        return list(listed)
    with services() as svc:
        return [a["account_id"] for a in svc["paper"].get("/accounts")] or ["default"]


@app.command()
@service_errors
def gate(account: Account = None, limit: Limit = 50, as_json: JsonFlag = False) -> None:
    """Recent gate decisions with their reasons, the risk budget and active lockouts."""
    out: dict[str, Any] = {}
    with services() as svc:
        if account:
            known_account(svc, account)
        for acc in _accounts(account):
            items = svc["entry_gate"].get("/decisions", {"account_id": acc, "limit": limit})["items"]
            out[acc] = {"decisions": items, "risk": svc["entry_gate"].get(f"/accounts/{acc}/risk")}
    if as_json:
        return print_json(out)
    for acc, data in out.items():
        _print_gate(acc, data["decisions"], data["risk"])


def _print_gate(account: str, items: list[dict[str, Any]], risk: dict[str, Any]) -> None:
    def verdict(item: dict[str, Any]) -> str:
        colour = "green" if item["outcome"].startswith("ALLOW") else "red"
        return f"[{colour}]{item['outcome']}[/{colour}]"

    console.print(table(f"gate decisions — account {account}", (
        "time", "trader", "symbol", "side", "outcome", "quantity", "reasons"), (
        (when(i.get("occurred_at")), i["decision"]["trader_id"], i["decision"]["symbol"],
         i["decision"]["decision"], verdict(i), qty(i.get("approved_quantity"), i["decision"]["symbol"]),
         "; ".join(f"{c['reason_code']}: {c['message']}" for c in i.get("checks", []) if not c["passed"]))
        for i in items)))
    budget = risk["risk_budget"]
    console.print(table("risk budget", list(budget), [[_figure(k, v) for k, v in budget.items()]]))
    kill = risk["kill_switch"]
    if kill.get("engaged"):
        console.print(f"[bold red]KILL SWITCH engaged[/bold red]: {kill}")
    console.print(table("lockouts", ("lockout", "details"), (
        (lk.get("lockout_id") or lk.get("kind") or "—", lk) for lk in risk["lockouts"])))


def _figure(key: str, value: Any) -> str:
    if isinstance(value, str) and key.endswith(("_pct", "_fraction", "_rate")):
        return pct(value)
    if isinstance(value, str) and any(w in key for w in ("equity", "loss", "risk", "pnl", "budget", "capital")):
        return money(value)
    return "—" if value is None else str(value)


@app.command("performance")
@service_errors
def performance_cmd(account: Account = None, trader: Trader = None, as_json: JsonFlag = False) -> None:
    """Performance of closed positions (position service): per account, or one trader."""
    with services() as svc:
        if trader:
            known_trader(svc, trader)
            scopes = {f"trader {trader}": performance(svc, trader_id=trader,
                                                      start_equity=_start(svc, _trader_account(trader)))}
        else:
            scopes = {f"account {a}": performance(svc, account_id=a, start_equity=_start(svc, a))
                      for a in _accounts(account)}
    if as_json:
        return print_json(scopes)
    console.print(table("performance", ("scope", *HEADLINE), (
        (scope, *(_perf(k, p.get(k)) for k in HEADLINE)) for scope, p in scopes.items()),
        right=HEADLINE))


def _perf(key: str, value: Any) -> str:
    if key == "total_pnl" or key == "expectancy":
        return pnl(value)
    if key in ("win_rate", "max_drawdown"):
        return pct(value)
    if key in ("profit_factor", "average_r", "sharpe") and value is not None:
        return f"{Decimal(str(value)):.2f}"
    return "—" if value is None else str(value)


def _trader_account(trader: str) -> str | None:
    return (running().get("traders") or {}).get(trader)  # type: ignore[no-any-return]


def _start(svc: Services, account: str | None) -> str | None:
    """The account's starting USDT on paper, the base of drawdown and returns."""
    if account is None:
        return None
    found = svc["paper"].get(f"/accounts/{account}", missing_ok=True)
    return (found or {}).get("starting_balances", {}).get("USDT")


@app.command()
@service_errors
def close(position_id: str, fraction: Annotated[str | None, typer.Option(
        help="close only this fraction, e.g. 0.5")] = None) -> None:
    """Close one position at market."""
    body: dict[str, Any] = {"reason": "robson close"}
    if fraction is not None:
        body["fraction"] = fraction
    with services() as svc:
        result = svc["position"].post(f"/positions/{position_id}/close", body)
    console.print(f"[yellow]closing[/yellow] {position_id}: {result['status']} (version {result['version']})")


@app.command("close-all")
@service_errors
def close_all(account: str, yes: Annotated[bool, typer.Option("--yes", "-y",
              help="do not ask for confirmation")] = False) -> None:
    """Close every open position of an account at market."""
    if not yes:
        typer.confirm(f"Close every open position of account {account}?", abort=True)
    with services() as svc:
        result = svc["position"].post(f"/accounts/{account}/close-all", {"reason": "robson close-all"})
    console.print(f"[yellow]closing {result['closing']} position(s)[/yellow] of account {account}")


def _set_paused(trader: str, account: str | None, paused: bool) -> None:
    with services() as svc:
        known_trader(svc, trader)
        account = account or _trader_account(trader) or _bound_account(svc, trader)
        verb = "pause" if paused else "resume"
        result = svc["position"].post(f"/traders/{trader}/{verb}",
                                      {"account_id": account, "reason": f"robson {verb}"})
    state = "[yellow]paused[/yellow]" if paused else "[green]active[/green]"
    note = "" if result["changed"] else " (already so)"
    console.print(f"trader {trader} of account {account} is {state}{note}")


def _bound_account(svc: Services, trader: str) -> str:
    found = svc["signal"].get(f"/traders/{trader}", missing_ok=True)
    if found is None:
        raise ServiceError("signal", f"GET /traders/{trader}", f"unknown trader {trader!r}; pass --account")
    return found["account_id"]


@app.command()
@service_errors
def pause(trader: str, account: Account = None) -> None:
    """Pause a trader: no new entries; open positions stay managed."""
    _set_paused(trader, account, True)


@app.command()
@service_errors
def resume(trader: str, account: Account = None) -> None:
    """Resume a paused trader."""
    _set_paused(trader, account, False)
