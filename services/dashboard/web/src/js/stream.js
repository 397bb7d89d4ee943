// One EventSource for the page: snapshot, then marks, position changes, ticks and refresh hints.
const listeners = new Map();
let source = null;
export const state = { positions: new Map(), prices: new Map() };

export function on(kind, fn) {
  if (!listeners.has(kind)) listeners.set(kind, new Set());
  listeners.get(kind).add(fn);
  return () => listeners.get(kind).delete(fn);
}

function emit(kind, data) {
  for (const fn of listeners.get(kind) || []) {
    try { fn(data); } catch (err) { console.warn("listener failed", kind, err); }
  }
}

export function connect() {
  if (source) return;
  const opened = source = new EventSource("/api/stream");
  const live = document.getElementById("live");
  source.onopen = () => live.classList.add("on");
  source.onerror = () => {
    live.classList.remove("on");
    // refused (401: signed out, token revoked or expired): no retry, so the next sign-in opens anew
    if (source === opened && opened.readyState === EventSource.CLOSED) source = null;
  };
  source.addEventListener("snapshot", (e) => {
    const data = JSON.parse(e.data);
    state.positions.clear();
    for (const p of data.positions) state.positions.set(p.position_id, p);
    for (const [sym, p] of Object.entries(data.prices)) state.prices.set(sym, p);
    emit("snapshot", data);
  });
  source.addEventListener("mark", (e) => {
    const m = JSON.parse(e.data);
    const p = state.positions.get(m.position_id);
    if (p) Object.assign(p, { last_price: m.last_price, unrealized_pnl: m.unrealized_pnl, unrealized_pct: m.unrealized_pct, live_r: m.r });
    emit("mark", m);
  });
  source.addEventListener("position", (e) => {
    const data = JSON.parse(e.data);
    state.positions.set(data.position.position_id, data.position);
    emit("position", data);
  });
  source.addEventListener("tick", (e) => {
    const t = JSON.parse(e.data);
    state.prices.set(t.symbol, { price: t.price, at: t.at });
    emit("tick", t);
  });
  source.addEventListener("refresh", (e) => emit("refresh", JSON.parse(e.data)));
}

export function disconnect() {
  if (source) source.close();
  source = null;
}
