// Small DOM helpers: element builder, toasts, confirmation dialog.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function toast(message, kind = "info", ms = 6000) {
  const node = el("div", { class: `toast ${kind}`, role: "status" }, message);
  document.getElementById("toasts").append(node);
  setTimeout(() => node.remove(), ms);
  return node;
}

export function confirmAction(text) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

export function errorText(err) {
  const body = err?.body;
  if (body?.violations?.length) return body.violations.map((v) => `${v.name}: ${v.message ?? ""}`.trim()).join("; ");
  if (Array.isArray(body?.detail)) return body.detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  return err?.message || String(err);
}

export function card(label, value, cls = "", attrs = {}) {
  return el("div", { class: "card", ...attrs }, el("div", { class: "label" }, label), el("div", { class: `value ${cls}` }, value));
}

export function table(headers, rows, cls = "responsive") {
  return el("table", { class: cls },
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { class: h.num ? "num" : "" }, h.label ?? h)))),
    el("tbody", {}, rows));
}

export function td(label, content, cls = "") {
  return el("td", { "data-label": label, class: cls }, content);
}
