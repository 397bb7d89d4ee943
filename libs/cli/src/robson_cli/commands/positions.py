"""`robson positions`: open positions with their last price and unrealized P&L, closed ones
with their closed size, exit price and realized figures; newest first."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer
from robson_contracts.positions import PositionStatus

from robson_cli.commands.common import (
    JsonFlag,
    Limit,
    console,
    not_found,
    pnl,
    print_json,
    service_errors,
    services,
    table,
)
from robson_cli.commands.ops import Account, known_account
from robson_cli.fmt import pct, price, qty, when

app = typer.Typer()


STATUS_GROUPS = {"open": "open", "closed": "closed"}


def _status_filter(status: str | None) -> str | None:
    if status is None:
        return None
    if status.lower() in STATUS_GROUPS:
        return status.lower()
    if status.upper() in PositionStatus.__members__:
        return status.upper()
    known = ", ".join(["open", "closed", *PositionStatus.__members__])
    not_found(f"--status {status}: unknown status (one of {known})")
    return None


@app.command()
@service_errors
def positions(account: Account = None, status: Annotated[str | None, typer.Option(
        help="open, closed, or a status (OPEN, CLOSED, PENDING_ENTRY…)")] = None,
              limit: Limit = 50, as_json: JsonFlag = False) -> None:
    """Positions, newest first: open ones with their last price and unrealized P&L, closed ones
    with their closed size, exit price and realized P&L."""
    wanted = _status_filter(status)
    with services() as svc:
        if account:
            known_account(svc, account)
        found = svc["position"].get("/positions", {"account_id": account, "status": wanted, "limit": limit})
    found = sorted(found, key=lambda p: p["created_at"], reverse=True)
    if as_json:
        return print_json(found)
    console.print(table(f"positions ({len(found)})", (
        "opened", "id", "account", "trader", "symbol", "side", "status", "size", "entry", "stop",
        "last / exit", "realized", "unrealized", "return", "exit reason"), (
        _position_row(p) for p in found), right=("size", "entry", "stop", "last / exit", "realized",
                                                 "unrealized", "return")))


def _position_row(p: dict[str, Any]) -> tuple[Any, ...]:
    sym = p["symbol"]
    closed = p["status"] in ("CLOSED", "CANCELED", "REJECTED")
    closed_size = sum((Decimal(c["quantity"]) for c in p.get("closes") or []), Decimal(0))
    size = qty(closed_size if closed else p["remaining_quantity"], sym)
    last = price(p["exit_price"] if closed else p["last_price"], sym)
    ret = _realized_return(p) if closed else pct(p.get("unrealized_pct"))
    return (when(p.get("opened_at") or p["created_at"]), p["position_id"], p["account_id"], p["trader_id"],
            sym, p["side"], p["status"], size, price(p["entry_price"], sym), price(p["stop_loss"], sym),
            last, pnl(p["realized_pnl"]), "—" if closed else pnl(p["unrealized_pnl"]), ret,
            p["exit_reason"] or "—")


def _realized_return(p: dict[str, Any]) -> str:
    """Realized P&L over the entry notional of the closed size."""
    closes = p.get("closes") or []
    notional = sum((Decimal(c["quantity"]) for c in closes), Decimal(0)) * Decimal(p["entry_price"] or 0)
    return pct(Decimal(p["realized_pnl"] or 0) / notional) if notional else "—"
