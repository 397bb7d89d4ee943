"""Sign-in and the read side: the services' read routes through one origin, with the user's token."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from robson_dashboard.adapters.upstream import UpstreamUnavailable
from robson_dashboard.assets import vendor_file
from robson_dashboard.domain.allowlist import readable
from robson_dashboard.domain.session import Session, can
from robson_dashboard.entrypoints import overview
from robson_dashboard.entrypoints.auth import COOKIE, SessionDep, live_session, refusal
from robson_dashboard.entrypoints.relay import relay
from robson_dashboard.runtime import RuntimeDep

router = APIRouter(prefix="/api", tags=["dashboard"])


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str | None = Field(None, min_length=1, max_length=8192)
    operator: bool = False


def _is_loopback(host: str, names: tuple[str, ...]) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in names


def _loopback(request: Request) -> bool:
    """A client on this machine, asking for this machine by a loopback name: a page of another
    site whose name is re-pointed at 127.0.0.1 (DNS rebinding) sends its own Host."""
    client = request.client.host if request.client else ""
    name = (request.url.hostname or "").rstrip(".").lower()
    return (_is_loopback(client, ("localhost", "testclient"))
            and (_is_loopback(name, ("localhost",)) or name.endswith(".localhost")))


def _describe(session: Session) -> dict[str, Any]:
    who = session.identity
    return {"signed_in": True, "subject": who.subject, "scopes": list(who.scopes), "accounts": list(who.accounts),
            "via": session.via, "expires_at": session.expires_at.isoformat(),
            "can": {scope: can(who, scope) for scope in ("read", "trade", "admin")}}


@router.get("/session/options")
async def sign_in_options(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    return {"operator_login": runtime.settings.operator_login and _loopback(request),
            "chart_library": vendor_file(runtime.settings.web_dir).is_file()}


@router.post("/session")
async def sign_in(body: SignIn, request: Request, response: Response, runtime: RuntimeDep) -> dict[str, Any]:
    if body.operator:
        if not (runtime.settings.operator_login and _loopback(request)):
            raise HTTPException(403, "operator: the local operator signs in only from this machine")
        token, via = runtime.settings.service_token, "operator"
    elif body.token:
        token, via = body.token.strip(), "token"
    else:
        raise HTTPException(422, "token: paste a token, or sign in as the local operator")
    if (reason := refusal(request, token)) is not None:
        raise HTTPException(401, f"token: refused ({reason})")
    try:  # the services judge the token; the dashboard only asks one of them
        check = await runtime.upstreams.call("position", "GET", "/positions", token, params={"limit": 1})
    except UpstreamUnavailable as exc:
        raise HTTPException(502, str(exc)) from exc
    if check.status_code in (401, 403):
        raise HTTPException(401, "token: the services refused it")
    session = runtime.sessions.open(token, via)
    response.set_cookie(COOKIE, session.session_id, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/",
                        max_age=int((session.expires_at - session.created_at).total_seconds()))
    return _describe(session)


@router.get("/session")
async def who_am_i(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """200 either way (a page asking "am I signed in?" is not an error)."""
    session = live_session(request, runtime)
    return _describe(session) if session else {"signed_in": False}


@router.delete("/session")
async def sign_out(request: Request, response: Response, runtime: RuntimeDep) -> dict[str, str]:
    session_id = request.cookies.get(COOKIE)
    runtime.sessions.close(session_id)
    if session_id:
        runtime.hub.end_session(session_id)
    response.delete_cookie(COOKIE, path="/")
    return {"signed_out": "yes"}


@router.get("/svc/{service}/{path:path}")
async def read(service: str, path: str, request: Request, session: SessionDep,
               runtime: RuntimeDep) -> Response:
    if not readable(service, path):
        raise HTTPException(404, f"path: {service}/{path} is not readable through the dashboard")
    return await relay(runtime.upstreams, service, "GET", "/" + path, session.token,
                       params=list(request.query_params.multi_items()))


@router.get("/overview")
async def overview_page(session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    return await overview.gather(runtime.upstreams, session.token)


@router.get("/backtests")
async def backtests(session: SessionDep, runtime: RuntimeDep) -> list[dict[str, Any]]:
    return overview.backtest_reports(runtime.settings.backtests_dir)


@router.get("/backtests/{name:path}")
async def backtest(name: str, session: SessionDep, runtime: RuntimeDep) -> Response:
    return overview.backtest_report(runtime.settings.backtests_dir, name)
