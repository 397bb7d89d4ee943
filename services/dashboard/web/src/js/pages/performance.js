// Performance: the position service's metrics per account and trader, closed trades per symbol
// and per month, and backtest reports (from `robson backtest`, under .data/backtests).
import { api } from "../api.js";
import { money, pct, ratio, count, duration, time, tone } from "../format.js";
import { el, table, td, errorText } from "../ui.js";

const METRICS = [["trades", "Trades", count], ["win_rate", "Win rate", (v) => pct(v === null ? null : Number(v) * 100, false)], ["total_pnl", "Net P&L", money],
  ["profit_factor", "Profit factor", ratio], ["expectancy", "Expectancy", money], ["average_r", "Avg R", ratio], ["max_drawdown", "Max drawdown", (v) => money(v, false)],
  ["sharpe", "Sharpe", ratio], ["sortino", "Sortino", ratio], ["best_trade", "Best", money], ["worst_trade", "Worst", money], ["average_holding_seconds", "Avg holding", duration]];

function metricsTable(rows) {
  return table(["Scope", ...METRICS.map(([, label]) => ({ label, num: true }))], rows.map(([scope, perf]) => el("tr", {},
    td("scope", scope), ...METRICS.map(([key, label, f]) => td(label, perf ? el("span", { class: key === "total_pnl" || key === "expectancy" ? tone(perf[key]) : "" }, f(perf[key] ?? null)) : "—", "num")))));
}

function groupTable(title, groups) {
  const rows = [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
  return el("div", {}, el("h3", {}, title), rows.length ? table([title, { label: "Trades", num: true }, { label: "Wins", num: true }, { label: "Net P&L", num: true }, { label: "Fees", num: true }],
    rows.map(([key, g]) => el("tr", {}, td(title, key), td("trades", count(g.trades), "num"), td("wins", count(g.wins), "num"),
      td("net", el("span", { class: tone(g.pnl) }, money(g.pnl)), "num"), td("fees", money(g.fees, false), "num")))) : el("p", { class: "muted" }, "No closed trade."));
}

function group(positions, keyOf) {
  const groups = new Map();
  for (const p of positions) {
    const key = keyOf(p);
    const g = groups.get(key) || { trades: 0, wins: 0, pnl: 0, fees: 0 };
    g.trades += 1; g.wins += Number(p.realized_pnl) > 0 ? 1 : 0; g.pnl += Number(p.realized_pnl || 0); g.fees += Number(p.fees || 0);
    groups.set(key, g);
  }
  return groups;
}

function reportView(report) {
  const flat = Object.entries(report).filter(([, v]) => v === null || typeof v !== "object");
  return el("div", {}, flat.length ? table(["Field", "Value"], flat.map(([k, v]) => el("tr", {}, td("field", k), td("value", String(v))))) : null,
    el("details", { open: true }, el("summary", {}, "Full report (JSON)"), el("pre", {}, JSON.stringify(report, null, 2))));
}

export async function render(root) {
  const body = el("div", {});
  root.append(el("h1", {}, "Performance"), body);
  const [overview, traders, closed, backtests] = await Promise.all([
    api.get("/api/overview").catch(() => ({ accounts: [] })),
    api.svc("signal", "traders").catch(() => []),
    api.svc("position", "positions", { status: "closed", limit: 5000 }).catch(() => []),
    api.get("/api/backtests").catch(() => []),
  ]);
  const perTrader = await Promise.all(traders.map(async (t) => [`trader ${t.trader_id}`, await api.svc("position", "performance", { trader_id: t.trader_id }).catch(() => null)]));
  const done = closed.filter((p) => p.status === "CLOSED");
  const viewer = el("div", { id: "backtest-view" });
  body.append(
    el("div", { class: "panel" }, metricsTable([...overview.accounts.map((a) => [`account ${a.account_id}`, a.performance]), ...perTrader])),
    el("div", { class: "row" },
      el("div", { class: "panel" }, groupTable("Symbol", group(done, (p) => p.symbol))),
      el("div", { class: "panel" }, groupTable("Month (UTC)", group(done, (p) => (p.closed_at || "").slice(0, 7))))),
    el("h2", {}, "Backtest reports"),
    el("div", { class: "panel", id: "backtests" }, backtests.length ? table(["Report", "Modified", { label: "Size", num: true }], backtests.map((b) => el("tr", {},
      td("report", el("button", { class: "open-report", onclick: async () => {
        try { viewer.replaceChildren(el("h3", {}, b.name), reportView(await api.get(`/api/backtests/${encodeURIComponent(b.name)}`))); } catch (err) { viewer.replaceChildren(el("p", { class: "down" }, errorText(err))); }
      } }, b.name)), td("modified", time(b.modified_at)), td("size", count(b.bytes), "num")))) : el("p", { class: "muted" }, "No backtest report under .data/backtests yet (run `robson backtest`)."), viewer));
  return null;
}
