"""The signed-in session of a request: an HttpOnly, SameSite=Strict cookie; changes also need
the ``X-Robson-Request`` header, which no cross-site form can send."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from robson_dashboard.domain.session import Session
from robson_dashboard.runtime import RuntimeDep

COOKIE = "robson_session"
CSRF_HEADER = "X-Robson-Request"


def current_session(request: Request, runtime: RuntimeDep) -> Session:
    session = runtime.sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise HTTPException(401, "not signed in")
    return session


def changing_session(request: Request, session: Annotated[Session, Depends(current_session)]) -> Session:
    if request.headers.get(CSRF_HEADER) != "1":
        raise HTTPException(403, f"a change needs the {CSRF_HEADER}: 1 header")
    return session


SessionDep = Annotated[Session, Depends(current_session)]
ChangeDep = Annotated[Session, Depends(changing_session)]
