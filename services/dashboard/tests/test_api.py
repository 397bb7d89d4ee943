"""The dashboard's HTTP side: sign-in, forwarding the user's own token, the read allowlist,
changes needing the request header, approvals naming who is signed in, the web files."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from robson_dashboard.main import DashboardService

from .conftest import browser
from .test_domain import jwt

HEADER = {"X-Robson-Request": "1"}


async def test_operator_sign_in_from_another_machine_is_refused(dashboard: DashboardService) -> None:
    async with browser(dashboard, host="10.1.2.3") as client:
        assert (await client.get("/api/session/options")).json()["operator_login"] is False
        response = await client.post("/api/session", json={"operator": True})
    assert response.status_code == 403 and "operator" in response.json()["detail"]


async def test_operator_sign_in_on_this_machine_sets_an_httponly_same_site_cookie(
        dashboard: DashboardService) -> None:
    async with browser(dashboard) as client:
        response = await client.post("/api/session", json={"operator": True})
        assert response.status_code == 200 and response.json()["subject"] == "local-operator"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert (await client.get("/api/session")).json()["signed_in"] is True
        await client.delete("/api/session")
        assert (await client.get("/api/session")).json() == {"signed_in": False}
        assert (await client.get("/api/svc/position/positions")).status_code == 401


async def test_a_token_the_services_refuse_does_not_sign_in(dashboard: DashboardService) -> None:
    async with browser(dashboard) as client:
        response = await client.post("/api/session", json={"token": "revoked"})
        empty = await client.post("/api/session", json={})
    assert response.status_code == 401 and "token" in response.json()["detail"]
    assert empty.status_code == 422


async def test_reads_carry_the_users_own_token_and_show_only_what_it_may_see(
        dashboard: DashboardService, services: FastAPI) -> None:
    async with browser(dashboard) as client:
        await client.post("/api/session", json={"token": "reader"})
        positions = (await client.get("/api/svc/position/positions", params={"status": "open"})).json()
        other = await client.get("/api/svc/position/positions/p2")
    assert [p["position_id"] for p in positions] == ["p1"]
    assert other.status_code == 404
    forwarded = [s for s in services.state.seen if s["path"].startswith("/positions")]
    assert forwarded and all(s["authorization"] == "Bearer reader" for s in forwarded)


async def test_a_route_not_on_the_read_list_is_404_and_never_forwarded(
        dashboard: DashboardService, services: FastAPI) -> None:
    async with browser(dashboard) as client:
        await client.post("/api/session", json={"operator": True})
        before = len(services.state.seen)
        response = await client.get("/api/svc/paper/accounts/a1/reset")
    assert response.status_code == 404 and "not readable" in response.json()["detail"]
    assert len(services.state.seen) == before


async def test_a_change_without_the_request_header_is_refused(dashboard: DashboardService,
                                                                services: FastAPI) -> None:
    async with browser(dashboard) as client:
        await client.post("/api/session", json={"operator": True})
        response = await client.post("/api/positions/p1/close", json={"fraction": "0.5"})
    assert response.status_code == 403 and "X-Robson-Request" in response.json()["detail"]
    assert not [s for s in services.state.seen if s["path"].endswith("/close")]


async def test_a_refused_stop_move_comes_back_with_the_validation_verdict(dashboard: DashboardService) -> None:
    async with browser(dashboard) as client:
        await client.post("/api/session", json={"operator": True})
        response = await client.put("/api/positions/p1/stop-loss", json={"price": "48000"}, headers=HEADER)
    assert response.status_code == 422
    assert response.json()["violations"][0]["name"] == "STOP_INCREASES_RISK"


async def test_an_approval_records_the_signed_in_subject_not_what_the_page_says(
        dashboard: DashboardService) -> None:
    async with browser(dashboard) as client:
        alice = jwt({"sub": "alice@desk", "scopes": ["trade"]})
        await client.post("/api/session", json={"token": alice})
        approved = await client.post("/api/approvals/d1/approve", json={}, headers=HEADER)
        forged = await client.post("/api/approvals/d1/approve", json={"by": "mallory"}, headers=HEADER)
        rejected = await client.post("/api/approvals/d2/reject", json={"reason": "late"}, headers=HEADER)
    # decision takes the approver from the token: the BFF forwards alice's, and names no one
    assert approved.json()["body"] == {} and approved.json()["authorization"] == f"Bearer {alice}"
    assert forged.status_code == 422
    assert rejected.json()["body"] == {"reason": "late"}
    assert rejected.json()["authorization"] == f"Bearer {alice}"


async def test_the_page_and_its_files_are_served_and_nothing_outside_them(dashboard: DashboardService) -> None:
    async with browser(dashboard) as client:
        index = await client.get("/")
        script = await client.get("/static/js/app.js")
        outside = await client.get("/static/../../src/robson_dashboard/settings.py")
        missing = await client.get("/static/nope.js")
    assert index.status_code == 200 and "<title>Robson</title>" in index.text
    assert "default-src 'self'" in index.headers["content-security-policy"]
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert outside.status_code == 404 and missing.status_code == 404


async def test_backtest_reports_are_listed_and_read_but_not_outside_their_folder(
        dashboard: DashboardService) -> None:
    folder = dashboard.runtime.settings.backtests_dir
    folder.mkdir(parents=True)
    (folder / "run-1.json").write_text('{"trades": 3}')
    async with browser(dashboard) as client:
        await client.post("/api/session", json={"operator": True})
        listed = (await client.get("/api/backtests")).json()
        report = (await client.get("/api/backtests/run-1.json")).json()
        escape = await client.get("/api/backtests/..%2F..%2Fetc%2Fpasswd")
    assert [r["name"] for r in listed] == ["run-1.json"] and report == {"trades": 3}
    assert escape.status_code == 404


async def test_operator_sign_in_through_a_foreign_host_name_is_refused(dashboard: DashboardService) -> None:
    """DNS rebinding: a web page at http://evil.example:8108 whose name the attacker re-points to
    127.0.0.1 is same-origin with the dashboard, and its requests come from this machine's
    browser (a loopback client). Only the Host header tells them apart; the local operator's
    admin token must not be handed to a page of another site."""
    transport = httpx.ASGITransport(app=dashboard.app(manage_lifecycle=False), client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://evil.example:8108") as client:
        options = (await client.get("/api/session/options")).json()
        response = await client.post("/api/session", json={"operator": True})
    assert options["operator_login"] is False
    assert response.status_code == 403 and "set-cookie" not in response.headers
    async with browser(dashboard) as client:  # the real page, on this machine's own name, still signs in
        assert (await client.post("/api/session", json={"operator": True})).status_code == 200


async def test_api_answers_are_never_stored_by_a_browser_or_proxy_cache(
        dashboard: DashboardService, services: FastAPI) -> None:
    async with browser(dashboard) as client:
        await client.post("/api/session", json={"token": "reader"})
        relayed = await client.get("/api/svc/position/positions", params={"status": "open"})
        session = await client.get("/api/session")
        page = await client.get("/")
    assert relayed.status_code == 200 and relayed.headers["cache-control"] == "no-store"
    assert session.headers["cache-control"] == "no-store"
    assert page.headers["cache-control"] == "no-cache"  # the page keeps its own policy
