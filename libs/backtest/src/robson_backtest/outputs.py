"""A run's files: trades.csv, equity.csv, report.json and a self-contained report.html."""

from __future__ import annotations

import csv
import json
from datetime import UTC
from decimal import Decimal
from pathlib import Path

from robson_contracts import PositionClosed

from robson_backtest import html
from robson_backtest.engine import EquityPoint, RunResult
from robson_backtest.metrics import breakdowns, summary

TRADE_COLUMNS = ("trader", "symbol", "side", "entry_time", "exit_time", "entry_price",
                 "exit_price", "quantity", "exit_reason", "realized_pnl", "fees")


def iso(t: object) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")  # type: ignore[attr-defined]


def trade_row(t: PositionClosed) -> dict[str, str]:
    return {"trader": t.trader_id, "symbol": t.symbol, "side": t.side.value,
            "entry_time": iso(t.opened_at), "exit_time": iso(t.occurred_at),
            "entry_price": str(t.entry_price), "exit_price": str(t.exit_price),
            "quantity": str(t.quantity), "exit_reason": t.exit_reason.value,
            "realized_pnl": str(t.realized_pnl), "fees": str(t.fees)}


def drawdowns(curve: list[EquityPoint]) -> list[float]:
    out, peak = [], Decimal(0)
    for p in curve:
        peak = max(peak, p.equity)
        out.append(float((peak - p.equity) / peak * 100) if peak > 0 else 0.0)
    return out


def report(result: RunResult) -> dict[str, object]:
    spec = result.spec
    return {
        "period": {"start": iso(result.start) if result.start else None,
                   "end": iso(result.end) if result.end else None,
                   "candles": result.candles},
        "accounts": [{"id": a.account_id, "starting_balances": {k: str(v) for k, v in a.balances.items()}}
                     for a in spec.accounts],
        "traders": [{"id": t.trader_id, "account": t.binding.account_id,
                     "strategy": t.binding.strategy, "symbols": list(t.binding.symbols),
                     "timeframes": [tf.value for tf in t.binding.timeframes]} for t in spec.traders],
        "venue": {"maker_fee": str(spec.venue.maker_fee), "taker_fee": str(spec.venue.taker_fee),
                  "slippage": repr(spec.venue.slippage), "market_fill": spec.venue.market_fill.value},
        "summary": summary(result.trades, result.equity, spec.starting_equity
                           if result.starting_equity is None else result.starting_equity),
        "breakdowns": breakdowns(result.trades),
        "open_positions_at_end": result.open_positions,
        "dead_letters": [{k: v for k, v in vars(d).items() if k != "message"}
                         for d in result.dead_letters[:100]],
        "dead_letter_count": len(result.dead_letters),
    }


def write_all(result: RunResult, out: Path) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "trades.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TRADE_COLUMNS)
        writer.writeheader()
        writer.writerows(trade_row(t) for t in result.trades)
    dd = drawdowns(result.equity)
    with (out / "equity.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("time", "equity", "drawdown_pct", "in_position"))
        for p, d in zip(result.equity, dd, strict=True):
            writer.writerow((iso(p.at), str(p.equity.quantize(Decimal("0.00000001"))),
                             f"{d:.4f}", int(p.exposed)))
    doc = report(result)
    (out / "report.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "report.html").write_text(html.page(doc, result, dd))
    return doc
