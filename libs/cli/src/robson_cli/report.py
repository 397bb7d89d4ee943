"""The report of one run: period, starting and ending equity, return, drawdown, the trades and
their breakdown per symbol and per exit reason; written as JSON and Markdown.

`run_report` is pure (plain dicts in, a dict out) so a backtest can build the same report from
its own closed positions: `run_report(run_id, period, start_equity, end_equity, closed, ...)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from robson_cli.client import Services
from robson_cli.config import RobsonConfig
from robson_cli.fmt import money, pct, price, qty

HEADLINE = ("trades", "wins", "losses", "win_rate", "total_pnl", "profit_factor", "expectancy",
            "average_r", "max_drawdown", "sharpe")
REPORT_VERSION = 1
TRADE_FIELDS = ("position_id", "account_id", "trader_id", "symbol", "side", "quantity", "entry_price",
                "exit_price", "opened_at", "closed_at", "exit_reason", "realized_pnl", "fees", "r_multiple")


def performance(services: Services, account_id: str | None = None, trader_id: str | None = None,
                start_equity: str | None = None) -> dict[str, Any]:
    return services["position"].get("/performance", {"account_id": account_id, "trader_id": trader_id,
                                                     "start_equity": start_equity})


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def breakdown(trades: Iterable[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """Per value of ``key``: trades, wins, losses, realized P&L (as a decimal string)."""
    out: dict[str, dict[str, Any]] = {}
    for t in trades:
        row = out.setdefault(str(t.get(key) or "—"), {"trades": 0, "wins": 0, "losses": 0, "pnl": Decimal(0)})
        value = _dec(t.get("realized_pnl"))
        row["trades"] += 1
        row["wins" if value > 0 else "losses"] += 1
        row["pnl"] += value
    return {k: v | {"pnl": format(v["pnl"], "f")} for k, v in sorted(out.items())}


def max_drawdown(start: Decimal, trades: list[dict[str, Any]]) -> Decimal:
    """Largest fall of closed-trade equity from its peak, as a fraction of that peak."""
    equity = peak = start
    worst = Decimal(0)
    for t in sorted(trades, key=lambda t: t.get("closed_at") or ""):
        equity += _dec(t.get("realized_pnl"))
        peak = max(peak, equity)
        if peak > 0:
            worst = max(worst, (peak - equity) / peak)
    return worst


def latest_event(feed: dict[str, Any]) -> str | None:
    """The newest event time of signal's feed status ({symbol: {timeframe: iso}})."""
    times = [t for series in (feed.get("last_event_time") or {}).values() if isinstance(series, dict)
             for t in series.values() if t]
    return max(times, default=None)


def run_report(run_id: str, period: tuple[str | None, str | None], start_equity: Decimal,
               end_equity: Decimal, closed: list[dict[str, Any]], open_positions: int = 0,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    trades = sorted(({k: t.get(k) for k in TRADE_FIELDS} for t in closed),
                    key=lambda t: t.get("closed_at") or "", reverse=True)
    ret = (end_equity - start_equity) / start_equity if start_equity else Decimal(0)
    return {
        "version": REPORT_VERSION, "run_id": run_id, "generated_at": datetime.now(UTC).isoformat(),
        "period": {"start": period[0], "end": period[1]},
        "start_equity": format(start_equity, "f"), "end_equity": format(end_equity, "f"),
        "return_pct": format((ret * 100).quantize(Decimal("0.01")), "f"),
        "max_drawdown_pct": format((max_drawdown(start_equity, trades) * 100).quantize(Decimal("0.01")), "f"),
        "trades": trades, "trade_count": len(trades), "open_positions": open_positions,
        "by_symbol": breakdown(trades, "symbol"), "by_exit_reason": breakdown(trades, "exit_reason"),
        **(extra or {}),
    }


def build_report(services: Services, config: RobsonConfig, feed: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The current run's report from the services (the run started from clean trading state)."""
    start = sum((a.quote_balance for a in config.accounts), Decimal(0))
    end = Decimal(0)
    accounts: dict[str, Any] = {}
    for account in config.accounts:
        paper = services["paper"].get(f"/accounts/{account.id}", missing_ok=True) or {}
        end += _dec(paper.get("equity") or account.quote_balance)
        accounts[account.id] = {
            "start_equity": format(account.quote_balance, "f"), "end_equity": paper.get("equity"),
            "performance": performance(services, account.id, start_equity=format(account.quote_balance, "f"))}
    closed = services["position"].get("/positions", {"status": "closed", "limit": 5000})
    open_positions = services["position"].get("/positions", {"status": "open", "limit": 5000})
    first = feed.get("first_event_time") or min((t.get("opened_at") or "" for t in closed), default=None)
    period = (first or None, latest_event(feed))
    feed_info = {k: feed.get(k) for k in ("mode", "state", "finished", "candles", "signals", "skipped_rows")}
    return run_report(run_id, period, start, end, closed, len(open_positions),
                      {"feed": feed_info, "accounts": accounts})


def write_report(report: dict[str, Any], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / f"{report['run_id']}.json", directory / f"{report['run_id']}.md"
    json_path.write_text(json.dumps(report, indent=2, default=str))
    md_path.write_text(markdown(report))
    return [json_path, md_path]


def markdown(report: dict[str, Any]) -> str:
    p = report["period"]
    lines = [f"# Robson run report — run {report['run_id']}", "",
             f"- Period: {p['start'] or '—'} → {p['end'] or '—'}",
             f"- Equity: {money(report['start_equity'])} → {money(report['end_equity'])} "
             f"(return {pct(report['return_pct'], scaled=True)}, max drawdown "
             f"{pct(report['max_drawdown_pct'], scaled=True)})",
             f"- Trades: {report['trade_count']} closed, {report['open_positions']} still open", ""]
    for title, key in (("By symbol", "by_symbol"), ("By exit reason", "by_exit_reason")):
        lines += [f"## {title}", "", "| | trades | wins | losses | P&L |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {k} | {v['trades']} | {v['wins']} | {v['losses']} | {money(v['pnl'])} |"
                  for k, v in report[key].items()]
        lines.append("")
    lines += ["## Trades (newest first)", "",
              "| closed | symbol | side | qty | entry | exit | reason | P&L |",
              "|---|---|---|---:|---:|---:|---|---:|"]
    lines += [f"| {t['closed_at']} | {t['symbol']} | {t['side']} | {qty(t['quantity'], t['symbol'])} | "
              f"{price(t['entry_price'], t['symbol'])} | {price(t['exit_price'], t['symbol'])} | "
              f"{t['exit_reason']} | {money(t['realized_pnl'])} |" for t in report["trades"]]
    return "\n".join(lines) + "\n"


def cell(value: Any) -> str:
    """A table cell: an em dash for nothing, floats to three places."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
