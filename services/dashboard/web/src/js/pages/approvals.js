// Approvals: pending decisions with their cancel-window countdown; approve or reject (the
// dashboard records who is signed in).
import { api } from "../api.js";
import { price, pct, time, duration } from "../format.js";
import { el, table, td, toast, errorText } from "../ui.js";

function card(d, canTrade, reload) {
  const until = d.pending_until ? new Date(d.pending_until).getTime() : null;
  const countdown = el("span", { class: "countdown", dataset: { until: until ?? "" } }, until ? duration((until - Date.now()) / 1000) : "waits for you");
  const reason = el("input", { placeholder: "reason (for a rejection)", class: "reject-reason" });
  const resolve = async (verdict) => {
    try {
      await api.post(`/api/approvals/${d.decision_id}/${verdict}`, { reason: reason.value });
      toast(`${verdict === "approve" ? "Approved" : "Rejected"} ${d.kind} ${d.symbol}`, "ok");
    } catch (err) { toast(`Could not ${verdict}: ${errorText(err)}`, "error", 10000); }
    reload();
  };
  return el("div", { class: "panel approval", dataset: { decisionId: d.decision_id } },
    el("h3", {}, `${d.kind} ${d.symbol} · ${d.trader_id} · ${d.engine}`),
    el("p", {}, until ? "Proceeds on its own in " : "", countdown, until ? " unless rejected" : ""),
    el("p", { class: "reasoning" }, d.reasoning || "—"),
    el("p", { class: "muted" }, "Decided ", time(d.occurred_at)),
    canTrade ? el("div", { class: "actions" },
      el("button", { class: "primary approve", onclick: () => resolve("approve") }, "Approve"),
      reason, el("button", { class: "danger reject", onclick: () => resolve("reject") }, "Reject")) : el("p", { class: "muted" }, "read only"));
}

export async function render(root, { session }) {
  const pending = el("div", { id: "pending" });
  const recent = el("div", { class: "panel", id: "resolved" });
  root.append(el("h1", {}, "Approvals"), pending, el("h2", {}, "Recently resolved"), recent);
  const seen = new Set();
  async function load() {
    const list = await api.svc("decision", "approvals");
    const ids = new Set(list.map((d) => d.decision_id));
    if (ids.size !== seen.size || [...ids].some((id) => !seen.has(id))) {
      seen.clear(); ids.forEach((id) => seen.add(id));
      pending.replaceChildren(...(list.length ? list.map((d) => card(d, session.me?.can?.trade, load)) : [el("p", { class: "muted panel" }, "Nothing waits for approval.")]));
    }
    const resolved = (await Promise.all(["APPROVED", "USER_REJECTED", "AUTO_APPROVED"].map((status) =>
      api.svc("decision", "decisions", { status, limit: 10 }).catch(() => [])))).flat()
      .sort((a, b) => (b.resolved_at || "").localeCompare(a.resolved_at || "")).slice(0, 15);
    recent.replaceChildren(resolved.length ? table(["Resolved", "Decision", "Status", "By", "Note"], resolved.map((d) => el("tr", { dataset: { decisionId: d.decision_id } },
      td("resolved", time(d.resolved_at)), td("decision", `${d.kind} ${d.symbol} · ${d.trader_id}`), td("status", d.status),
      td("by", d.resolved_by ?? "—"), td("note", d.resolution_note ?? "")))) : el("p", { class: "muted" }, "None yet."));
  }
  await load();
  const tick = setInterval(() => {
    for (const c of root.querySelectorAll(".countdown[data-until]")) {
      if (!c.dataset.until) continue;
      const left = (Number(c.dataset.until) - Date.now()) / 1000;
      c.textContent = left > 0 ? duration(left) : "proceeding";
    }
  }, 1000);
  const poll = setInterval(load, 2000);
  return () => { clearInterval(tick); clearInterval(poll); };
}
