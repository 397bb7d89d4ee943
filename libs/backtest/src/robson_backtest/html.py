"""report.html: one self-contained page (inline CSS and SVG, no script, no network)."""

from __future__ import annotations

from html import escape

from robson_backtest.engine import RunResult

MAX_POINTS = 1500
W, H = 960, 260

CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}table{border-collapse:collapse;font-size:.85em}
td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}.kpi{display:flex;flex-wrap:wrap;gap:12px}
.kpi div{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}
.kpi b{display:block;font-size:1.2em}svg{background:#fafafa;border:1px solid #eee}
.neg{color:#b00}.pos{color:#070}"""


def _series(values: list[float]) -> list[float]:
    if len(values) <= MAX_POINTS:
        return values
    step = len(values) / MAX_POINTS
    return [values[int(i * step)] for i in range(MAX_POINTS)] + [values[-1]]


def _svg(values: list[float], color: str, invert: bool = False, fill: bool = False) -> str:
    pts = _series(values)
    if not pts:
        return "<p>no data</p>"
    lo, hi = min(pts), max(pts)
    span = (hi - lo) or 1.0

    def xy(i: int, v: float) -> str:
        x = i * (W - 20) / max(1, len(pts) - 1) + 10
        frac = (v - lo) / span
        y = 10 + (frac if invert else 1 - frac) * (H - 20)
        return f"{x:.1f},{y:.1f}"

    line = " ".join(xy(i, v) for i, v in enumerate(pts))
    shape = (f'<polygon points="10,10 {line} {W - 10},10" fill="{color}" opacity="0.35"/>'
             if fill else f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="1.5"/>')
    return (f'<svg viewBox="0 0 {W} {H}" width="100%" role="img">{shape}'
            f'<text x="12" y="22" font-size="12">{hi:,.2f}</text>'
            f'<text x="12" y="{H - 14}" font-size="12">{lo:,.2f}</text></svg>')


def _table(rows: list[dict[str, object]], columns: list[str]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(r.get(c, '')))}</td>" for c in columns)
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def page(doc: dict, result: RunResult, drawdowns: list[float]) -> str:
    from robson_backtest.outputs import TRADE_COLUMNS, trade_row

    s = doc["summary"]
    period = doc["period"]
    dd = s["max_drawdown"]
    kpis = [("Return", f"{s['return_pct']}%"), ("Final equity", s["final_equity"]),
            ("Trades", s["trades"]), ("Win rate", f"{s['win_rate_pct']}%"),
            ("Profit factor", s["profit_factor"]), ("Expectancy", s["expectancy"]),
            ("Sharpe", s["sharpe"]), ("Sortino", s["sortino"]),
            ("Max drawdown", f"{dd['max_pct']}%"), ("DD duration", dd["duration"]),
            ("Exposure", f"{s['exposure_pct']}%"), ("Fees", s["fees"])]
    kpi_html = "".join(f"<div>{escape(k)}<b>{escape(str(v))}</b></div>" for k, v in kpis)
    cols = ["key", "trades", "wins", "win_rate_pct", "realized_pnl", "avg_pnl", "fees"]
    b = doc["breakdowns"]
    trades = [trade_row(t) for t in result.trades]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Robson backtest</title>
<style>{CSS}</style></head><body>
<h1>Robson backtest</h1>
<p>{escape(str(period['start']))} → {escape(str(period['end']))} · {period['candles']:,} candles ·
starting equity {escape(s['starting_equity'])} USDT · {doc['open_positions_at_end']} position(s)
open at the end · {doc['dead_letter_count']} dead letter(s)</p>
<div class="kpi">{kpi_html}</div>
<h2>Equity</h2>{_svg([float(p.equity) for p in result.equity], "#1565c0")}
<h2>Drawdown (%)</h2>{_svg(drawdowns, "#c62828", invert=True, fill=True)}
<h2>Per symbol</h2>{_table(b['per_symbol'], cols)}
<h2>Per exit reason</h2>{_table(b['per_exit_reason'], cols)}
<h2>Per month</h2>{_table(b['per_month'], cols)}
<h2>Trades ({len(trades)})</h2>{_table(trades, list(TRADE_COLUMNS))}
</body></html>
"""
