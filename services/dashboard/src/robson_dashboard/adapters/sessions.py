"""Signed-in browsers, in memory: an HttpOnly cookie names a session holding the user's token
(a restart signs everyone out). Bounded: the oldest session is dropped past ``max_sessions``."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from robson_dashboard.domain.session import Session, identity_of


class Sessions:
    def __init__(self, max_sessions: int, hours: float) -> None:
        self.max_sessions = max_sessions
        self.lifetime = timedelta(hours=hours)
        self._by_id: OrderedDict[str, Session] = OrderedDict()

    def open(self, token: str | None, via: str, now: datetime | None = None) -> Session:
        now = now or datetime.now(UTC)
        identity = identity_of(token)
        expires = now + self.lifetime
        if identity.expires_at is not None:
            expires = min(expires, identity.expires_at)
        session = Session(secrets.token_urlsafe(32), token, identity, now, expires, via)
        self._by_id[session.session_id] = session
        while len(self._by_id) > self.max_sessions:
            self._by_id.popitem(last=False)
        return session

    def get(self, session_id: str | None, now: datetime | None = None) -> Session | None:
        if not session_id:
            return None
        session = self._by_id.get(session_id)
        if session is None:
            return None
        if session.expires_at <= (now or datetime.now(UTC)):
            del self._by_id[session_id]
            return None
        return session

    def close(self, session_id: str | None) -> None:
        if session_id:
            self._by_id.pop(session_id, None)
