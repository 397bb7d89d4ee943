"""Secrets never leak: a scenario stores API keys and a webhook secret, makes good and bad
requests with good and bad tokens, reads every read route; then every API response and every
service log is searched for the database password, the API keys, the webhook secret and tokens."""

from __future__ import annotations

import re
import secrets

import httpx
from robson_kit.auth import Scope
from robson_kit.auth.guard import required_scope
from robson_kit.testing import token

from .conftest import Running
from .registry import OPEN_ROUTES, route_table


def test_no_password_key_secret_or_token_in_any_response_or_log(running: Running) -> None:
    api_key, api_secret = f"key{secrets.token_hex(10)}", f"sec{secrets.token_hex(16)}"
    webhook_secret, admin = f"hook{secrets.token_hex(8)}", token("admin", subject="scanner")
    forged = token("admin", subject="x")[:-6] + "AAAAAA"
    headers = {"Authorization": f"Bearer {admin}"}
    bodies: list[str] = []

    def send(service: str, method: str, path: str, auth: dict[str, str] | None = None, **kw) -> httpx.Response:
        response = httpx.request(method, running.url(service) + path, headers=auth if auth is not None
                                 else headers, timeout=15, **kw)
        bodies.append(f"{service} {method} {path} {response.status_code} {response.headers} {response.text}")
        return response

    assert send("paper", "PUT", "/accounts/acc-scan", json={"balances": {"USDT": "1000"}}).status_code == 200
    assert send("execution", "PUT", "/accounts/acc-scan/keys",
                json={"api_key": api_key, "api_secret": api_secret}).status_code == 200
    send("execution", "PUT", "/accounts/acc-scan/keys", json={"api_key": api_key, "api_secret": "short"})
    send("execution", "PUT", "/accounts/acc-scan", json={"mode": "LIVE", "confirmation": api_secret})
    assert send("signal", "PUT", "/traders/t-scan", json={
        "account_id": "acc-scan", "strategy": "ema_cross", "params": {"fast": 9, "slow": 21},
        "symbols": ["BTCUSDT"], "timeframes": ["5m"], "webhook_secret": webhook_secret}).status_code == 200
    alert = {"id": "a1", "trader_id": "t-scan", "symbol": "BTCUSDT", "action": "buy", "price": "1"}
    send("signal", "POST", "/signals", auth={}, json={**alert, "secret": webhook_secret[:-1] + "x"})
    send("signal", "POST", "/signals", auth={}, json=alert)
    send("paper", "GET", "/accounts", auth={"Authorization": f"Bearer {forged}"})
    send("paper", "GET", "/accounts", auth={"Authorization": f"Basic {api_secret}"})
    for svc, method, path, route in route_table():
        if method == "GET" and "{" not in path and path != "/stream" and (svc.name, method, path) not in OPEN_ROUTES \
                and required_scope(route) in (Scope.READ, Scope.ADMIN):
            send(svc.name, "GET", path)
        if "{account_id}" in path and method == "GET":
            send(svc.name, "GET", re.sub(r"\{(\w+)\}", lambda m: "acc-scan" if m.group(1) == "account_id"
                                         else "x", path))

    logs = "\n".join(p.read_text(errors="replace") for p in sorted(running.logs.glob("*.log")))
    assert logs, "no service logs to scan"
    haystacks = {"responses": "\n".join(bodies), "logs": logs}
    needles = {"database password": running.db_password, "API key": api_key, "API secret": api_secret,
               "webhook secret": webhook_secret, "admin token": admin, "forged token": forged}
    leaks = [f"{what} in {where}" for where, text in haystacks.items()
             for what, needle in needles.items() if needle in text]
    assert not leaks, leaks
    assert len(bodies) > 30
