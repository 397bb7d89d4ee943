// Numbers as a trader reads them: prices to the symbol's tick, quantities to its step,
// money to cents, percentages to two places; times local, with UTC on hover.
import { api } from "./api.js";

const rules = new Map();
let loaded = null;

export function loadRules() {
  loaded ??= api.svc("paper", "symbols").then((list) => {
    for (const r of list) rules.set(r.symbol, r);
  }).catch(() => {});
  return loaded;
}

function decimalsOf(step) {
  if (!step) return 2;
  const s = String(step).replace(/0+$/, "");
  const dot = s.indexOf(".");
  return dot < 0 ? 0 : s.length - dot - 1;
}

const nf = new Map();
function fmt(value, digits, sign = false) {
  if (value === null || value === undefined || value === "") return "—";
  const n = Number(value);
  if (!Number.isFinite(n)) return "—";
  const key = `${digits}:${sign}`;
  if (!nf.has(key)) nf.set(key, new Intl.NumberFormat(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits, signDisplay: sign ? "exceptZero" : "auto" }));
  return nf.get(key).format(n);
}

export const priceDigits = (symbol) => decimalsOf(rules.get(symbol)?.tick_size ?? "0.01");
export const price = (symbol, v) => fmt(v, priceDigits(symbol));
export const qty = (symbol, v) => {
  if (v === null || v === undefined) return "—";
  const d = decimalsOf(rules.get(symbol)?.step_size ?? "0.00001");
  const n = Math.trunc(Number(v) * 10 ** d) / 10 ** d; // never show more than is held
  return fmt(n, d);
};
export const money = (v, sign = true) => fmt(v, 2, sign);
export const pct = (v, sign = true) => (v === null || v === undefined ? "—" : `${fmt(v, 2, sign)}%`);
export const ratio = (v) => (v === null || v === undefined ? "—" : fmt(v, 2, true));
export const count = (v) => fmt(v, 0);
export const tone = (v) => (Number(v) > 0 ? "up" : Number(v) < 0 ? "down" : "");

const local = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
export function time(iso) {
  const span = document.createElement("time");
  if (!iso) { span.textContent = "—"; return span; }
  const d = new Date(iso);
  span.dateTime = d.toISOString();
  span.textContent = local.format(d);
  span.title = `${d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "")} UTC`;
  return span;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  let s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const two = (x) => String(x).padStart(2, "0");
  return (d ? `${d}d ` : "") + `${two(h)}:${two(m)}:${two(s)}`;
}
