"""Generated from each service's route table: a route added tomorrow is covered the same way.
Every route without a token → 401; with a scope below the route's → 403; another account's
token on an account's resources → 404. Only /healthz, /readyz, /metrics, the docs and the
declared webhook are open."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from robson_kit.auth import Scope, keys, tokens
from robson_kit.auth.guard import is_open, required_scope
from robson_kit.testing import auth_headers, token

from .conftest import Running
from .registry import OPEN_ROUTES, OPS_PATHS, SERVICES, route_table

ROUTES = route_table()
GUARDED = [r for r in ROUTES if (r[0].name, r[1], r[2]) not in OPEN_ROUTES]
BELOW = {Scope.TRADE: "read", Scope.ADMIN: "trade"}


def _id(row: tuple) -> str:
    return f"{row[0].name} {row[1]} {row[2]}"


def concrete(path: str, account: str = "acc-sec-owner") -> str:
    return re.sub(r"\{(\w+)\}", lambda m: account if m.group(1) == "account_id"
                  else "0" if m.group(1) == "index" else "sec-x1", path)


def call(running: Running, row: tuple, headers: dict[str, str], path: str | None = None) -> httpx.Response:
    """The response, its body read unless it is an endless event stream (GET /stream)."""
    svc, method, route_path, _ = row
    with httpx.stream(method, running.url(svc.name) + (path or concrete(route_path)),
                      headers=headers, timeout=10) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
        return response


def test_route_table_covers_every_service() -> None:
    assert {row[0].name for row in ROUTES} == {s.name for s in SERVICES}
    assert len(GUARDED) >= 60


@pytest.mark.parametrize("row", GUARDED, ids=_id)
def test_route_without_a_token_answers_401(running: Running, row: tuple) -> None:
    response = call(running, row, {})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("row", GUARDED, ids=_id)
def test_route_with_a_scope_below_its_own_answers_403(running: Running, row: tuple) -> None:
    needed = required_scope(row[3])
    if needed is Scope.READ:  # nothing is below read: a read token must get past the guard
        assert call(running, row, auth_headers("read")).status_code not in (401, 403)
        return
    response = call(running, row, auth_headers(BELOW[needed]))
    assert response.status_code == 403, response.text
    assert response.json()["detail"]["reason_code"] == "INSUFFICIENT_SCOPE"


ACCOUNT_ROUTES = [r for r in GUARDED if "{account_id}" in r[2]]


@pytest.mark.parametrize("row", ACCOUNT_ROUTES, ids=_id)
def test_account_route_answers_404_to_another_accounts_token(running: Running, row: tuple) -> None:
    other = auth_headers("admin", accounts=["acc-sec-other"])
    assert call(running, row, other).status_code == 404
    owner = auth_headers("admin", accounts=["acc-sec-owner"])
    assert call(running, row, owner).status_code not in (401, 403)


def test_open_routes_are_exactly_the_declared_ones() -> None:
    opened = {(row[0].name, row[1], row[2]) for row in ROUTES if is_open(row[3])}
    assert opened == set(OPEN_ROUTES)


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_ops_routes_and_docs_answer_without_a_token(running: Running, svc) -> None:
    for path in sorted(OPS_PATHS):
        assert httpx.get(running.url(svc.name) + path, timeout=10).status_code == 200, path
    doc = httpx.get(running.url(svc.name) + "/openapi.json", timeout=10).json()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer",
        "description": "`robson token create --scope read|trade|admin` prints one"}
    page = httpx.get(running.url(svc.name) + "/docs", timeout=10).text
    assert "https://" not in page and "http://" not in page  # nothing from a CDN
    assert "SwaggerUIBundle" in page and '"persistAuthorization": true' in page
    asset = httpx.get(running.url(svc.name) + "/docs/assets/swagger-ui-bundle.js", timeout=10)
    assert asset.status_code == 200 and len(asset.content) > 100_000


def _read_route(name: str) -> str:
    return next(concrete(r[2]) for r in GUARDED if r[0].name == name and r[1] == "GET"
                and required_scope(r[3]) is Scope.READ and "{" not in r[2])


@pytest.mark.parametrize("kind", ["expired", "foreign-key", "tampered"])
def test_expired_foreign_and_tampered_tokens_are_refused_by_every_service(running: Running, kind: str) -> None:
    if kind == "expired":
        from robson_kit.testing import auth as test_auth

        bad = tokens.mint(test_auth._KEY, "late", ["admin"], ttl=timedelta(minutes=5),
                          now=datetime.now(UTC) - timedelta(hours=1))
    elif kind == "foreign-key":
        bad = tokens.mint(keys.generate(), "intruder", ["admin"])
    else:
        head, _, sig = token("read").split(".")
        forged = tokens.mint(keys.generate(), "intruder", ["admin"]).split(".")[1]
        bad = f"{head}.{forged}.{sig}"
    for svc in SERVICES:
        response = httpx.get(running.url(svc.name) + _read_route(svc.name),
                             headers={"Authorization": f"Bearer {bad}"}, timeout=10)
        assert response.status_code == 401, (svc.name, response.text)
        assert bad not in response.text


def test_revoked_token_is_refused_by_every_service_at_once(running: Running, nats_url: str) -> None:
    import asyncio
    import time

    import nats
    from robson_kit.auth.revocation import revoke

    value = token("admin", subject="soon-revoked")
    jti = tokens.unverified_claims(value)["jti"]
    headers = {"Authorization": f"Bearer {value}"}
    for svc in SERVICES:
        assert httpx.get(running.url(svc.name) + _read_route(svc.name), headers=headers,
                         timeout=10).status_code == 200

    async def _revoke() -> None:
        nc = await nats.connect(nats_url)
        try:
            await revoke(nc.jetstream(), jti, subject="soon-revoked")
        finally:
            await nc.close()

    asyncio.run(_revoke())
    deadline = time.monotonic() + 10
    pending = {s.name for s in SERVICES}
    while pending and time.monotonic() < deadline:
        for name in sorted(pending):
            response = httpx.get(running.url(name) + _read_route(name), headers=headers, timeout=10)
            if response.status_code == 401 and response.json()["detail"]["reason_code"] == "TOKEN_REVOKED":
                pending.discard(name)
    assert not pending, f"still accepting a revoked token: {sorted(pending)}"
