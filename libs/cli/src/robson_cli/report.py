"""The performance report at the end of a replay: position's metrics per account and per
trader, paper's balances, the feed's counts; written as JSON and Markdown."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from robson_cli.client import Services
from robson_cli.config import RobsonConfig

HEADLINE = ("trades", "wins", "losses", "win_rate", "total_pnl", "profit_factor", "expectancy",
            "average_r", "max_drawdown", "sharpe")


def performance(services: Services, account_id: str | None = None, trader_id: str | None = None,
                start_equity: str | None = None) -> dict[str, Any]:
    return services["position"].get("/performance", {"account_id": account_id, "trader_id": trader_id,
                                                     "start_equity": start_equity})


def build_report(services: Services, config: RobsonConfig, feed: dict[str, Any]) -> dict[str, Any]:
    accounts: dict[str, Any] = {}
    for account in config.accounts:
        start = format(account.quote_balance, "f")
        paper = services["paper"].get(f"/accounts/{account.id}", missing_ok=True) or {}
        accounts[account.id] = {"performance": performance(services, account.id, start_equity=start),
                                "equity": paper.get("equity"), "balances": paper.get("balances", [])}
    traders = {
        t.id: performance(services, trader_id=t.id,
                          start_equity=format(config.account(t.account).quote_balance, "f"))
        for t in config.traders
    }
    open_positions = services["position"].get("/positions", {"status": "open", "limit": 5000})
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "feed": {k: feed.get(k) for k in ("mode", "state", "finished", "candles", "signals", "ticks",
                                          "skipped_rows", "last_event_time")},
        "accounts": accounts,
        "traders": traders,
        "open_positions": len(open_positions),
    }


def write_report(report: dict[str, Any], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path, md_path = directory / f"{stamp}.json", directory / f"{stamp}.md"
    json_path.write_text(json.dumps(report, indent=2))
    md_path.write_text(markdown(report))
    return [json_path, md_path]


def markdown(report: dict[str, Any]) -> str:
    feed = report["feed"]
    lines = [f"# Robson replay report — {report['generated_at']}", "",
             f"Feed: {feed.get('mode')} ({feed.get('candles')} candles, {feed.get('signals')} signals, "
             f"{feed.get('skipped_rows')} skipped rows). Open positions at the end: "
             f"{report['open_positions']}.", ""]
    rows = [(f"account {a}", v["performance"]) for a, v in report["accounts"].items()]
    rows += [(f"trader {t}", perf) for t, perf in report["traders"].items()]
    lines += ["| scope | " + " | ".join(HEADLINE) + " |", "|---" * (len(HEADLINE) + 1) + "|"]
    lines += ["| " + scope + " | " + " | ".join(cell(perf.get(k)) for k in HEADLINE) + " |"
              for scope, perf in rows]
    lines += ["", "| account | equity |", "|---|---|"]
    lines += [f"| {a} | {cell(v.get('equity'))} |" for a, v in report["accounts"].items()]
    return "\n".join(lines) + "\n"


def cell(value: Any) -> str:
    """A table cell: an em dash for nothing, floats to three places."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
