// The single page: hash routes, the session, the theme, the live stream.
import { api } from "./api.js";
import { loadRules } from "./format.js";
import * as stream from "./stream.js";
import { el } from "./ui.js";
import * as login from "./pages/login.js";
import * as overview from "./pages/overview.js";
import * as positions from "./pages/positions.js";
import * as chart from "./pages/chart.js";
import * as decisions from "./pages/decisions.js";
import * as approvals from "./pages/approvals.js";
import * as performance from "./pages/performance.js";

const pages = { login, overview, positions, chart, decisions, approvals, performance };
export const session = { me: null, options: null };
let cleanup = null;

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem("robson-theme", theme);
  window.dispatchEvent(new CustomEvent("themechange", { detail: theme }));
}

async function whoAmI() {
  try {
    const me = await api.get("/api/session");
    session.me = me.signed_in ? me : null;
  } catch { session.me = null; }
  document.getElementById("who").textContent = session.me ? `${session.me.subject} (${session.me.scopes.join(", ") || "token"})` : "";
  document.getElementById("sign-out").hidden = !session.me;
  return session.me;
}

async function route() {
  const [name, ...rest] = (location.hash.replace(/^#\/?/, "") || "overview").split("/");
  const page = pages[name] ? name : "overview";
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  if (page !== "login" && !session.me && !(await whoAmI())) {
    location.hash = "#/login";
    return;
  }
  if (page !== "login") {
    stream.connect();
    await loadRules();
  }
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
  document.getElementById("nav").classList.remove("open");
  const root = document.getElementById("page");
  root.replaceChildren();
  root.dataset.page = page;
  try {
    cleanup = await pages[page].render(root, { args: rest.map(decodeURIComponent), session });
  } catch (err) {
    root.append(el("div", { class: "panel down" }, `This page could not load: ${err.message}`));
  }
}

async function pollApprovals() {
  if (!session.me) return;
  try {
    const pending = await api.svc("decision", "approvals");
    const badge = document.getElementById("approvals-count");
    badge.hidden = pending.length === 0;
    badge.textContent = pending.length;
  } catch { /* shown on the page itself */ }
}

document.getElementById("theme").addEventListener("click", () =>
  applyTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"));
document.getElementById("menu-toggle").addEventListener("click", () => document.getElementById("nav").classList.toggle("open"));
document.getElementById("sign-out").addEventListener("click", async () => {
  await api.del("/api/session");
  session.me = null;
  stream.disconnect();
  await whoAmI();
  location.hash = "#/login";
});
window.addEventListener("hashchange", route);
window.addEventListener("robson:signed-in", async () => { await whoAmI(); location.hash = "#/overview"; });
applyTheme(localStorage.getItem("robson-theme") || (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark"));
setInterval(pollApprovals, 3000);
route();
