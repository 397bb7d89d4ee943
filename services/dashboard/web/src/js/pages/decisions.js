// Decisions: engine, confidence, the AI's reasoning and the validation result; the gate's verdict
// with every check and reason code; the position it led to.
import { api } from "../api.js";
import { price, qty, money, pct, time, tone } from "../format.js";
import { el, table, td, errorText } from "../ui.js";

async function gateVerdict(d) {
  const page = await api.svc("entry_gate", "decisions", { trader_id: d.trader_id, symbol: d.symbol, since: d.occurred_at, limit: 50 }).catch(() => null);
  return (page?.items || []).find((g) => g.decision?.decision_id === d.decision_id) || null;
}

async function detail(d) {
  const [full, gate, positions] = await Promise.all([
    api.svc("decision", `decisions/${d.decision_id}`),
    ["LONG", "SHORT"].includes(d.kind) ? gateVerdict(d) : null,
    api.svc("position", "positions", { trader_id: d.trader_id, symbol: d.symbol, limit: 200 }).catch(() => []),
  ]);
  const td_ = full.decision || {};
  const position = positions.find((p) => p.decision_id === d.decision_id || (d.position_id && p.position_id === d.position_id));
  return el("div", { class: "panel", id: "decision-detail" },
    el("h2", {}, `${td_.decision} ${d.symbol} · ${d.trader_id}`),
    el("div", { class: "grid" },
      el("div", { class: "card" }, el("div", { class: "label" }, "Engine"), el("div", { class: "value" }, `${d.engine}${td_.model ? ` (${td_.model})` : ""}`)),
      el("div", { class: "card" }, el("div", { class: "label" }, "Confidence"), el("div", { class: "value" }, pct(Number(td_.confidence) * 100, false))),
      el("div", { class: "card" }, el("div", { class: "label" }, "Entry / stop"), el("div", { class: "value" }, `${price(d.symbol, td_.entry_price)} / ${price(d.symbol, td_.stop_loss)}`)),
      el("div", { class: "card" }, el("div", { class: "label" }, "Status"), el("div", { class: "value" }, d.status))),
    el("h3", {}, "Reasoning"), el("p", { class: "reasoning" }, td_.reasoning || "—"),
    (td_.take_profits || []).length ? el("p", {}, "Take-profits: ", td_.take_profits.map((t) => `${price(d.symbol, t.price)} × ${pct(Number(t.fraction) * 100, false)}`).join(" · ")) : null,
    el("h3", {}, "Validation"),
    full.violations?.length ? el("ul", { class: "violations" }, full.violations.map((v) => el("li", {}, typeof v === "string" ? v : JSON.stringify(v))))
      : el("p", { class: "up" }, d.reason_code ? `passed with reason ${d.reason_code}` : "passed"),
    gate ? el("div", {},
      el("h3", {}, "Gate verdict: ", el("span", { class: `pill ${gate.outcome === "ALLOW_ENTRY" ? "ok" : "bad"}` }, gate.outcome), gate.approved_quantity ? ` quantity ${qty(d.symbol, gate.approved_quantity)}` : ""),
      table(["Check", "Passed", "Reason code", "Message"], (gate.checks || []).map((c) => el("tr", {},
        td("check", c.rule ?? c.name ?? "—"), td("passed", el("span", { class: c.passed ? "up" : "down" }, c.passed ? "yes" : "no")),
        td("code", c.reason_code ?? "—"), td("message", c.message ?? ""))))) : ["LONG", "SHORT"].includes(d.kind) && d.status !== "PENDING" ? el("p", { class: "muted" }, "No gate verdict found.") : null,
    el("h3", {}, "Position"),
    position ? el("p", {}, `${position.side} ${qty(d.symbol, position.quantity)} @ ${price(d.symbol, position.entry_price)} · ${position.status} · realized `,
      el("span", { class: tone(position.realized_pnl) }, money(position.realized_pnl)), " ", el("a", { href: `#/chart/${d.symbol}` }, "chart")) : el("p", { class: "muted" }, "None."));
}

export async function render(root) {
  const filter = el("select", { id: "decision-kind" }, ["", "LONG", "SHORT", "CLOSE", "PARTIAL_TP", "WATCH", "NO_TRADE"].map((k) => el("option", { value: k }, k || "all kinds")));
  const list = el("div", { class: "panel" });
  const side = el("div", {});
  root.append(el("h1", {}, "Decisions"), el("div", { class: "chart-tools" }, filter), list, side);
  async function load() {
    const rows = await api.svc("decision", "decisions", { kind: filter.value, limit: 200 });
    list.replaceChildren(rows.length ? table(["Time", "Trader", "Symbol", "Kind", "Engine", "Status", "Reason"], rows.map((d) => {
      const tr = el("tr", { dataset: { decisionId: d.decision_id }, style: "cursor:pointer", onclick: async () => {
        for (const x of list.querySelectorAll("tr.selected")) x.classList.remove("selected");
        tr.classList.add("selected");
        side.replaceChildren(el("p", { class: "muted" }, "Loading…"));
        try { side.replaceChildren(await detail(d)); } catch (err) { side.replaceChildren(el("p", { class: "down" }, errorText(err))); }
      } },
      td("time", time(d.occurred_at)), td("trader", d.trader_id), td("symbol", d.symbol), td("kind", d.kind), td("engine", d.engine),
      td("status", d.status), td("reason", el("span", { class: "muted", title: d.reasoning }, d.reason_code || (d.reasoning || "").slice(0, 90))));
      return tr;
    })) : el("p", { class: "muted" }, "No decision yet."));
  }
  filter.addEventListener("change", load);
  await load();
  list.querySelector("tr[data-decision-id]")?.click();
  return null;
}
