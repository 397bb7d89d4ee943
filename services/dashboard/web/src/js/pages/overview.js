// Overview: equity, P&L today and this month, open risk, risk budget, lockouts (live countdown),
// kill switch, feed mode and lag, services' health.
import { api } from "../api.js";
import { money, pct, time, duration, tone, count } from "../format.js";
import * as stream from "../stream.js";
import { el, card, table, td } from "../ui.js";

function equitySvg(points, start) {
  const values = [Number(start), ...points.map((p) => Number(p.equity))];
  if (values.length < 2) return el("p", { class: "muted" }, "No closed trades yet.");
  const w = 600, h = 160, min = Math.min(...values), max = Math.max(...values), span = max - min || 1;
  const xy = values.map((v, i) => [(i / (values.length - 1)) * w, h - 8 - ((v - min) / span) * (h - 16)]);
  const line = xy.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join("");
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const area = document.createElementNS(ns, "path");
  area.setAttribute("d", `${line}L${w},${h}L0,${h}Z`);
  area.setAttribute("class", "area");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", line);
  path.setAttribute("class", "line");
  svg.append(area, path);
  return el("div", { class: "equity" }, svg,
    el("div", { class: "muted mono" }, `low ${money(min, false)} · high ${money(max, false)} · ${points.length} closes`));
}

function lockoutRows(risk) {
  const asOf = new Date(risk.as_of).getTime();
  return (risk.lockouts || []).map((lk) => {
    const until = lk.until ? new Date(lk.until).getTime() : null;
    // live: count down to `until` on this clock; a replay's lockout (in event time, long past on
    // the wall clock) shows what was left at the account's last event
    const live = until !== null && until > Date.now();
    const cell = until === null ? el("span", { class: "countdown" }, "until unlocked")
      : live ? el("span", { class: "countdown", dataset: { until } }, duration((until - Date.now()) / 1000))
        : el("span", { class: "countdown", title: "event time of a replay" }, `${duration((until - asOf) / 1000)} (event time)`);
    return el("tr", { class: "lockout", dataset: { lockout: lk.lockout_id } },
      td("reason", el("span", { class: "pill bad" }, lk.reason_code)), td("scope", `${lk.scope}${lk.key ? ` ${lk.key}` : ""}`),
      td("message", lk.message), td("set", time(lk.set_at)), td("ends in", cell));
  });
}

function accountPanel(a) {
  const f = a.risk?.figures || {};
  const budget = a.risk?.risk_budget || {};
  const equity = Number(a.equity ?? f.equity ?? 0);
  const today = f.day_start_capital ? equity - Number(f.day_start_capital) : null;
  const month = f.month_start_capital ? equity - Number(f.month_start_capital) : null;
  const used = Number(budget.open_positions || 0) + Number(budget.pending_entries || 0);
  const kill = a.risk?.kill_switch?.engaged;
  const lockouts = lockoutRows(a.risk || {});
  return el("section", { class: "panel", dataset: { account: a.account_id } },
    el("h2", {}, `Account ${a.account_id}`),
    el("div", { class: "grid" },
      card("Equity (USDT)", money(a.equity, false)),
      card("P&L today", money(today), tone(today), { "data-figure": "today" }),
      card("P&L this month", money(month), tone(month), { "data-figure": "month" }),
      card("Unrealized P&L", money(a.open_risk?.unrealized_pnl), tone(a.open_risk?.unrealized_pnl)),
      card("Open risk (to stops)", money(a.open_risk?.at_risk, false)),
      card("Risk budget: slots", `${count(used)} / ${count(budget.max_concurrency)}`, "", { "data-figure": "slots" }),
      card("Monthly loss budget used", pct(Number(budget.budget_used || 0) * 100, false)),
      card("Drawdown from peak", pct(Number(f.drawdown || 0) * 100, false)),
      card("Kill switch", kill ? "ENGAGED" : "armed", kill ? "down" : "up", { "data-figure": "kill" })),
    el("h3", {}, "Equity curve"),
    equitySvg(a.equity_curve || [], a.starting_capital),
    el("h3", {}, `Lockouts (${lockouts.length})`),
    lockouts.length ? table(["Reason", "Scope", "Message", "Set", "Ends in"], lockouts) : el("p", { class: "muted" }, "No lockout."),
    Object.keys(a.risk?.paused_traders || {}).length ? el("p", { class: "warn" }, `Paused traders: ${Object.keys(a.risk.paused_traders).join(", ")}`) : null);
}

function feedPanel(feed) {
  if (!feed) return el("div", { class: "panel down" }, "The feed's status is unavailable.");
  const lag = feed.lag_seconds;
  const lagText = feed.finished ? "— (replay done)" : typeof lag === "number" ? (lag < 60 ? `${lag.toFixed(1)} s` : duration(lag)) : "—";
  return el("div", { class: "grid" },
    card("Feed mode", feed.mode ?? "—"),
    card("Feed state", feed.state ?? "—", feed.state === "failed" ? "down" : ""),
    card("Feed lag", lagText, typeof lag === "number" && lag > 10 && !feed.finished ? "warn" : ""),
    card("Replay finished", feed.finished ? "yes" : "no"));
}

function servicesPanel(services) {
  return table(["Service", "Status", "Checks"], services.map((s) => el("tr", {},
    td("service", s.name),
    td("status", el("span", { class: `pill ${s.ready ? "ok" : "bad"}` }, s.ready ? "ready" : "not ready")),
    td("checks", el("span", { class: "muted" }, checksText(s.detail))))));
}

function checksText(detail) {
  const checks = detail?.checks ?? detail;
  if (!checks || typeof checks !== "object") return String(detail ?? "—");
  const bad = Object.entries(checks).filter(([, v]) => v !== "ok");
  return bad.length ? bad.map(([k, v]) => `${k}: ${v}`).join("; ") : `all ok (${Object.keys(checks).join(", ")})`;
}

export async function render(root) {
  const body = el("div", {});
  root.append(el("h1", {}, "Overview"), body);
  let busy = false;
  async function load() {
    if (busy) return;
    busy = true;
    try {
      const data = await api.get("/api/overview");
      body.replaceChildren(
        el("h2", {}, "Market feed"), feedPanel(data.feed),
        ...data.accounts.map((a) => accountPanel(a)),
        el("h2", {}, "Services"), el("div", { class: "panel" }, servicesPanel(data.services)),
        el("p", { class: "muted" }, "Updated ", time(data.generated_at)));
    } finally { busy = false; }
  }
  await load();
  const tick = setInterval(() => {
    for (const c of root.querySelectorAll(".countdown[data-until]")) {
      const left = (Number(c.dataset.until) - Date.now()) / 1000;
      c.textContent = left > 0 ? duration(left) : "ended";
    }
  }, 1000);
  const poll = setInterval(load, 5000);
  const off = stream.on("refresh", () => load());
  return () => { clearInterval(tick); clearInterval(poll); off(); };
}
