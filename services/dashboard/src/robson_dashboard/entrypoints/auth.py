"""The signed-in session of a request: an HttpOnly, SameSite=Strict cookie; changes also need
the ``X-Robson-Request`` header, which no cross-site form can send. A session whose token the
services would now refuse (revoked, expired) ends at its next request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from robson_kit import logs
from robson_kit.auth import authenticator_for

from robson_dashboard.adapters import token_status
from robson_dashboard.domain.session import Session
from robson_dashboard.runtime import Runtime, RuntimeDep

COOKIE = "robson_session"
CSRF_HEADER = "X-Robson-Request"
log = logs.get_logger(__name__)


def refusal(request: Request, token: str | None) -> str | None:
    """Why the services would refuse ``token`` now (see ``adapters.token_status``), else None."""
    return token_status.refusal(authenticator_for(request.app.state.service), token)


def live_session(request: Request, runtime: Runtime) -> Session | None:
    session = runtime.sessions.get(request.cookies.get(COOKIE))
    if session is not None and (reason := refusal(request, session.token)) is not None:
        log.info("dashboard.session_ended", reason=reason, subject=session.identity.subject)
        runtime.sessions.close(session.session_id)
        return None
    return session


def current_session(request: Request, runtime: RuntimeDep) -> Session:
    session = live_session(request, runtime)
    if session is None:
        raise HTTPException(401, "not signed in")
    return session


def changing_session(request: Request, session: Annotated[Session, Depends(current_session)]) -> Session:
    if request.headers.get(CSRF_HEADER) != "1":
        raise HTTPException(403, f"a change needs the {CSRF_HEADER}: 1 header")
    return session


SessionDep = Annotated[Session, Depends(current_session)]
ChangeDep = Annotated[Session, Depends(changing_session)]
