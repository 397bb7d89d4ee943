// Sign in: paste a token, or (on this machine) sign in as the local operator.
import { api } from "../api.js";
import { el } from "../ui.js";

export async function render(root) {
  const options = await api.get("/api/session/options").catch(() => ({ operator_login: false }));
  const error = el("p", { class: "down", id: "login-error" });
  const token = el("textarea", { id: "token", placeholder: "Paste a bearer token (JWT)", autocomplete: "off", spellcheck: "false" });
  async function signIn(body) {
    error.textContent = "";
    try {
      await api.post("/api/session", body);
      window.dispatchEvent(new Event("robson:signed-in"));
    } catch (err) {
      error.textContent = err.message;
    }
  }
  root.append(el("div", { class: "panel login" },
    el("h1", {}, "Sign in to Robson"),
    options.operator_login ? el("div", {},
      el("p", { class: "muted" }, "You are on the machine running Robson: sign in as its operator."),
      el("button", { class: "primary", id: "operator-login", onclick: () => signIn({ operator: true }) }, "Sign in as local operator"),
      el("h3", {}, "or with a token")) : el("p", { class: "muted" }, "Paste the token you were given."),
    token,
    el("p", {}, el("button", { id: "token-login", onclick: () => signIn({ token: token.value.trim() || null }) }, "Sign in with token")),
    error));
}
