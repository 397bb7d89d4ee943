"""Access control in the kit: every route of a service's routers is authenticated; scopes,
accounts, expiry, foreign keys, revocation, write-rate limits; docs offline."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter
from robson_kit.auth import (
    AdminPrincipal,
    ReadPrincipal,
    Scope,
    TradePrincipal,
    keys,
    open_route,
    tokens,
)
from robson_kit.auth.guard import required_scope
from robson_kit.auth.ratelimit import RateLimiter
from robson_kit.auth.revocation import revoke
from robson_kit.service import Service
from robson_kit.testing import auth_headers, token, wait_until
from sampleapp.app import SampleSettings, build

router = APIRouter()


@router.get("/things")
async def list_things(who: ReadPrincipal) -> dict[str, Any]:
    return {"subject": who.subject}


@router.post("/things")
async def undeclared_write() -> dict[str, str]:
    return {"ok": "yes"}


@router.post("/things/trade")
async def trade_write(who: TradePrincipal) -> dict[str, str]:
    return {"by": who.subject}


@router.get("/accounts/{account_id}/things")
async def account_things(account_id: str, who: ReadPrincipal) -> dict[str, str]:
    return {"account_id": account_id}


@router.get("/admin-read")
async def admin_read(who: AdminPrincipal) -> dict[str, str]:
    return {"by": who.subject}


@router.post("/hook")
@open_route
async def hook() -> dict[str, str]:
    return {"hook": "ok"}


@pytest_asyncio.fixture
async def secured(bus, nats_url: str, database_url: str, schema: str) -> AsyncIterator[Service]:
    service = build(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                   auth_write_rate_per_minute=3))
    service.routers.append(router)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


def client(service: Service, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.app(manage_lifecycle=False)),
                             base_url="http://sample", headers=headers or {})


async def test_route_without_token_answers_401_and_ops_routes_stay_open(secured: Service) -> None:
    async with client(secured) as http:
        refused = await http.get("/things")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["detail"]["reason_code"] == "MISSING_TOKEN"
        for path in ("/healthz", "/metrics", "/docs", "/openapi.json"):
            assert (await http.get(path)).status_code == 200, path
        assert (await http.post("/hook")).status_code == 200


async def test_route_scopes_read_for_get_admin_for_undeclared_writes(secured: Service) -> None:
    async with client(secured, auth_headers("read", subject="reader")) as http:
        assert (await http.get("/things")).json() == {"subject": "reader"}
        assert (await http.post("/things")).status_code == 403
        assert (await http.post("/things/trade")).json()["detail"]["reason_code"] == "INSUFFICIENT_SCOPE"
        assert (await http.get("/admin-read")).status_code == 403
    async with client(secured, auth_headers("trade", subject="trader")) as http:
        assert (await http.post("/things/trade")).json() == {"by": "trader"}
        assert (await http.post("/things")).status_code == 403
    async with client(secured, auth_headers("admin")) as http:
        assert (await http.post("/things")).status_code == 200
        assert (await http.get("/admin-read")).status_code == 200


async def test_account_scoped_token_gets_404_for_another_accounts_path(secured: Service) -> None:
    async with client(secured, auth_headers("read", accounts=["acc1"])) as http:
        assert (await http.get("/accounts/acc1/things")).status_code == 200
        assert (await http.get("/accounts/acc2/things")).status_code == 404


@pytest.mark.parametrize("bad", ["expired", "foreign", "garbage", "tampered"])
async def test_bad_tokens_are_refused(secured: Service, bad: str) -> None:
    if bad == "expired":
        value = tokens.mint(_test_key(), "x", ["admin"], ttl=timedelta(minutes=1),
                            now=datetime.now(UTC) - timedelta(hours=1))
    elif bad == "foreign":
        value = tokens.mint(keys.generate(), "x", ["admin"])
    elif bad == "garbage":
        value = "not.a.jwt"
    else:
        head, body, sig = token("read").split(".")
        value = ".".join([head, body, sig[:-4] + ("AAAA" if not sig.endswith("AAAA") else "BBBB")])
    async with client(secured, {"Authorization": f"Bearer {value}"}) as http:
        response = await http.get("/things")
    assert response.status_code == 401
    assert value not in response.text


async def test_revoked_token_is_refused_by_running_and_new_services(secured: Service, nats_url: str,
                                                                     database_url: str, schema: str) -> None:
    value = token("admin", jti="revoke-me-" + schema)
    async with client(secured, {"Authorization": f"Bearer {value}"}) as http:
        assert (await http.get("/things")).status_code == 200
        await revoke(secured.bus.js, "revoke-me-" + schema, subject="test-admin")

        async def refused() -> bool:
            return (await http.get("/things")).status_code == 401

        await wait_until(refused, timeout=10, message="revocation to apply")
        assert (await http.get("/things")).json()["detail"]["reason_code"] == "TOKEN_REVOKED"
    other = build(SampleSettings(nats_url=nats_url, database_url=database_url, db_schema=schema))
    other.routers.append(router)
    await other.start()
    try:
        async with client(other, {"Authorization": f"Bearer {value}"}) as http:
            assert (await http.get("/things")).status_code == 401
    finally:
        await other.stop()


async def test_writes_beyond_the_per_token_rate_get_429_with_retry_after(secured: Service) -> None:
    async with client(secured, auth_headers("admin")) as http:
        codes = [(await http.post("/things")).status_code for _ in range(4)]
        limited = await http.post("/things")
        assert (await http.get("/things")).status_code == 200  # reads are not limited
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    assert int(limited.headers["retry-after"]) >= 1
    async with client(secured, auth_headers("admin")) as http:  # another token, its own budget
        assert (await http.post("/things")).status_code == 200


async def test_openapi_declares_bearer_and_docs_load_nothing_from_elsewhere(secured: Service) -> None:
    async with client(secured) as http:
        doc = (await http.get("/openapi.json")).json()
        page = (await http.get("/docs")).text
        bundle = await http.get("/docs/assets/swagger-ui-bundle.js")
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert doc["paths"]["/things"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in doc["paths"]["/hook"]["post"]
    # Swagger UI, from the service itself: its "Authorize" button reads the bearer scheme above
    assert "SwaggerUIBundle" in page and "/docs/assets/swagger-ui-bundle.js" in page
    assert bundle.status_code == 200 and b"SwaggerUIBundle" in bundle.content
    assert "http://" not in page and "https://" not in page


def test_declared_scope_wins_over_the_method_default() -> None:
    scopes = {(next(iter(r.methods)), r.path): required_scope(r) for r in router.routes}
    assert scopes[("POST", "/things")] is Scope.ADMIN
    assert scopes[("POST", "/things/trade")] is Scope.TRADE
    assert scopes[("GET", "/admin-read")] is Scope.ADMIN
    assert scopes[("GET", "/things")] is Scope.READ


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    assert all(limiter.take("t") is None for _ in range(60))
    wait = limiter.take("t")
    assert wait is not None and wait > 0
    now[0] += wait
    assert limiter.take("t") is None
    assert limiter.take("other") is None


def test_rate_limiter_memory_is_bounded() -> None:
    limiter = RateLimiter(10, clock=lambda: 0.0, max_keys=100)
    for i in range(1000):
        limiter.take(f"k{i}")
    assert len(limiter._buckets) <= 100


def test_keypair_is_created_once_with_a_private_file_only_the_owner_reads(tmp_path: Path) -> None:
    private, public = keys.ensure_keypair(tmp_path / "auth")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    first = private.read_bytes()
    keys.ensure_keypair(tmp_path / "auth")
    assert private.read_bytes() == first
    key = keys.load_private(private)
    principal = tokens.verify(keys.parse_public(public.read_bytes()), tokens.mint(key, "me", ["trade"], ["a1"]))
    assert principal.has(Scope.READ) and principal.has(Scope.TRADE) and not principal.has(Scope.ADMIN)
    assert principal.can_access("a1") and not principal.can_access("a2")


def _test_key() -> Any:
    from robson_kit.testing import auth as test_auth

    return test_auth._KEY
