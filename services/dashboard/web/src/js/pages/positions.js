// Positions: open positions with live mark, unrealized P&L and R, stop and take-profits, pushed
// as prices move; close, partial close, move the stop, pause/resume a trader, close all.
import { api } from "../api.js";
import { price, qty, money, pct, ratio, time, tone } from "../format.js";
import * as stream from "../stream.js";
import { el, table, td, toast, confirmAction, errorText } from "../ui.js";

const HOLDING = new Set(["PENDING_ENTRY", "OPEN", "PARTIALLY_CLOSED", "CLOSING"]);
window.__robsonMarks = window.__robsonMarks || [];
const verdicts = new Map(); // position id → the validation layer's last refusal, kept across redraws

function tps(p) {
  return (p.take_profits || []).map((t, i) => el("div", { class: t.filled ? "muted" : "" },
    `TP${i + 1} ${price(p.symbol, t.price)} × ${pct(Number(t.fraction) * 100, false)}${t.filled ? " ✓" : t.canceled ? " ✗" : ""}`));
}

function closes(p) {
  return (p.closes || []).map((c) => el("div", { class: "fill", title: c.at },
    `${qty(p.symbol, c.quantity)} @ ${price(p.symbol, c.price)} `, el("span", { class: tone(c.realized_pnl) }, money(c.realized_pnl)),
    el("div", { class: "muted" }, c.reason)));
}

async function act(what, fn) {
  try {
    const result = await fn();
    toast(what, "ok");
    return result;
  } catch (err) {
    toast(`${what} refused: ${errorText(err)}`, "error", 10000);
    throw err;
  }
}

function row(p, canTrade) {
  const stopInput = el("input", { type: "number", step: "any", class: "stop-input", placeholder: "new stop", "aria-label": "new stop price" });
  const verdict = el("ul", { class: "violations" }, (verdicts.get(p.position_id) || []).map((line) => el("li", {}, line)));
  const moveStop = async () => {
    verdicts.delete(p.position_id);
    verdict.replaceChildren();
    try {
      await api.put(`/api/positions/${p.position_id}/stop-loss`, { price: stopInput.value, expected_version: p.version });
      toast(`Stop of ${p.symbol} moved to ${price(p.symbol, stopInput.value)}`, "ok");
    } catch (err) {
      const violations = err.body?.violations || [];
      const lines = violations.length ? violations.map((v) => `${v.name}: ${v.message || `current ${v.current_value}, required ${v.required_value}`}`) : [errorText(err)];
      verdicts.set(p.position_id, lines);
      document.querySelectorAll(`tr[data-position-id="${CSS.escape(p.position_id)}"] .violations`).forEach((ul) => ul.replaceChildren(...lines.map((line) => el("li", {}, line))));
    }
  };
  const holding = p.status === "OPEN" || p.status === "PARTIALLY_CLOSED";
  return el("tr", { dataset: { positionId: p.position_id, symbol: p.symbol, trader: p.trader_id } },
    td("position", el("div", {},
      el("div", {}, el("a", { href: `#/chart/${p.symbol}` }, p.symbol), " ", el("span", { class: p.side === "LONG" ? "up" : "down" }, p.side)),
      el("div", { class: "muted" }, `${p.trader_id} · ${p.status}`), el("div", { class: "muted" }, time(p.opened_at || p.created_at)))),
    td("quantity", el("span", { class: "qty" }, `${qty(p.symbol, p.remaining_quantity)} / ${qty(p.symbol, p.quantity)}`), "num"),
    td("entry", price(p.symbol, p.entry_price), "num"),
    td("mark", el("span", { class: "mark" }, price(p.symbol, p.last_price)), "num"),
    td("unrealized", el("span", { class: `upnl ${tone(p.unrealized_pnl)}` }, money(p.unrealized_pnl)), "num"),
    td("move", el("span", { class: `upct ${tone(p.unrealized_pct)}` }, pct(p.unrealized_pct)), "num"),
    td("R", el("span", { class: "r" }, ratio(p.live_r ?? p.r_multiple)), "num"),
    td("stop", el("span", { class: "stop" }, price(p.symbol, p.stop_loss)), "num"),
    td("take-profits", el("div", { class: "tps" }, tps(p))),
    td("fills", el("div", { class: "closes" }, closes(p))),
    td("actions", canTrade && holding ? el("div", { class: "actions" },
      el("button", { class: "close-half", onclick: () => act(`Closing half of ${p.symbol}`, () => api.post(`/api/positions/${p.position_id}/close`, { fraction: "0.5" })) }, "Close ½"),
      el("button", { class: "close danger", onclick: async () => {
        if (await confirmAction(`Close the whole ${p.side} ${p.symbol} position at market?`)) await act(`Closing ${p.symbol}`, () => api.post(`/api/positions/${p.position_id}/close`, {}));
      } }, "Close"),
      el("span", { class: "stop-form" }, stopInput, el("button", { class: "move-stop", onclick: moveStop }, "Move stop")),
      verdict) : el("span", { class: "muted" }, holding ? "read only" : "")));
}

function tradersPanel(traders, canTrade, reload) {
  return table(["Trader", "Account", "Strategy", "Symbols", "State", ""], traders.map((t) => el("tr", { dataset: { trader: t.trader_id } },
    td("trader", t.trader_id), td("account", t.account_id), td("strategy", t.strategy), td("symbols", (t.symbols || []).join(", ")),
    td("state", el("span", { class: `pill ${t.paused ? "warn" : "ok"}` }, t.paused ? "paused" : "active")),
    td("", canTrade ? el("button", { class: "pause-toggle", onclick: async () => {
      await act(`${t.paused ? "Resuming" : "Pausing"} ${t.trader_id}`, () => api.post(`/api/traders/${t.trader_id}/${t.paused ? "resume" : "pause"}`, { account_id: t.account_id }));
      reload();
    } }, t.paused ? "Resume" : "Pause") : ""))));
}

export async function render(root, { session }) {
  const canTrade = session.me?.can?.trade;
  const openBody = el("tbody", {});
  const openTable = el("table", { class: "responsive", id: "open-positions" },
    el("thead", {}, el("tr", {}, ["Position", "#Qty left / entered", "#Entry", "#Mark", "#Unrealized", "#Move", "#R", "#Stop", "Take-profits", "Fills", ""]
      .map((h) => el("th", { class: h.startsWith("#") ? "num" : "" }, h.replace(/^#/, ""))))), openBody);
  const empty = el("p", { class: "muted", id: "no-positions" }, "No open position.");
  const traders = el("div", {});
  const accounts = el("div", { class: "actions" });
  const closed = el("div", {});
  root.append(el("h1", {}, "Positions"), el("div", { class: "panel" }, openTable, empty),
    el("h2", {}, "Traders"), el("div", { class: "panel" }, traders),
    el("h2", {}, "Close all"), el("div", { class: "panel" }, accounts),
    el("h2", {}, "Recently closed"), el("div", { class: "panel" }, closed));

  function draw() {
    const open = [...stream.state.positions.values()].filter((p) => HOLDING.has(p.status))
      .sort((a, b) => (b.opened_at || b.created_at || "").localeCompare(a.opened_at || a.created_at || ""));
    openBody.replaceChildren(...open.map((p) => row(p, canTrade)));
    empty.hidden = open.length > 0;
  }
  function update(p) {
    const existing = openBody.querySelector(`tr[data-position-id="${CSS.escape(p.position_id)}"]`);
    if (!HOLDING.has(p.status)) { existing?.remove(); empty.hidden = openBody.children.length > 0; loadClosed(); return; }
    const fresh = row(p, canTrade);
    fresh.classList.add("flash");
    if (existing) existing.replaceWith(fresh); else { openBody.prepend(fresh); empty.hidden = true; }
  }
  async function loadTraders() {
    try {
      const list = await api.svc("signal", "traders");
      const withState = await Promise.all(list.map(async (t) => {
        const policy = await api.svc("position", `traders/${t.trader_id}/policy`).catch(() => null);
        return { ...t, paused: policy?.paused ?? false };
      }));
      traders.replaceChildren(tradersPanel(withState, canTrade, loadTraders));
      const ids = [...new Set(withState.map((t) => t.account_id))];
      accounts.replaceChildren(...ids.map((id) => canTrade ? el("button", { class: "danger close-all", dataset: { account: id }, onclick: async () => {
        if (await confirmAction(`Close ALL positions of account ${id} at market?`)) await act(`Closing everything in ${id}`, () => api.post(`/api/accounts/${id}/close-all`, {}));
      } }, `Close all in ${id}`) : el("span", { class: "muted" }, "read only")));
    } catch (err) { traders.replaceChildren(el("p", { class: "down" }, errorText(err))); }
  }
  async function loadClosed() {
    const list = await api.svc("position", "positions", { status: "closed", limit: 20 }).catch(() => []);
    closed.replaceChildren(list.length ? table(["Symbol", "Side", "Qty", "Entry", "Exit", "Realized", "R", "Reason", "Closed"], list.map((p) => el("tr", { dataset: { positionId: p.position_id } },
      td("symbol", p.symbol), td("side", p.side), td("qty", qty(p.symbol, p.quantity), "num"), td("entry", price(p.symbol, p.entry_price), "num"),
      td("exit", price(p.symbol, p.exit_price), "num"), td("realized", el("span", { class: tone(p.realized_pnl) }, money(p.realized_pnl)), "num"),
      td("R", ratio(p.r_multiple), "num"), td("reason", p.exit_reason ?? "—"), td("closed", time(p.closed_at))))) : el("p", { class: "muted" }, "None yet."));
  }

  draw();
  loadTraders();
  loadClosed();
  const offs = [
    stream.on("snapshot", draw),
    stream.on("position", ({ event, position: p }) => {
      update(p);
      if (event === "PositionOpened") toast(`Opened ${p.side} ${p.symbol} ${qty(p.symbol, p.quantity)} @ ${price(p.symbol, p.entry_price)}`, "ok");
      if (event === "PositionPartiallyClosed" || event === "PositionClosed") {
        const c = (p.closes || []).at(-1);
        if (c) toast(`Filled: ${qty(p.symbol, c.quantity)} ${p.symbol} @ ${price(p.symbol, c.price)} (${money(c.realized_pnl)})`, "ok");
      }
      if (event === "PositionModificationRejected") toast(`A change to ${p.symbol} was refused by the validation layer`, "error");
    }),
    stream.on("mark", (m) => {
      const tr = openBody.querySelector(`tr[data-position-id="${CSS.escape(m.position_id)}"]`);
      if (!tr) return;
      tr.querySelector(".mark").textContent = price(m.symbol, m.last_price);
      const upnl = tr.querySelector(".upnl");
      upnl.textContent = money(m.unrealized_pnl);
      upnl.className = `upnl ${tone(m.unrealized_pnl)}`;
      const upct = tr.querySelector(".upct");
      upct.textContent = pct(m.unrealized_pct);
      upct.className = `upct ${tone(m.unrealized_pct)}`;
      tr.querySelector(".r").textContent = ratio(m.r);
      const marks = window.__robsonMarks;
      marks.push({ position_id: m.position_id, price: m.last_price, pnl: m.unrealized_pnl, at: Date.now() });
      if (marks.length > 20000) marks.splice(0, 10000);
    }),
    stream.on("refresh", ({ topic }) => { if (topic === "trader") loadTraders(); }),
  ];
  return () => offs.forEach((off) => off());
}
