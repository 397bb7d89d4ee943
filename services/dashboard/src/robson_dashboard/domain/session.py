"""Who is signed in: what a token says about its holder, for display and for the approvals'
"by" field. The services verify the token; the dashboard never grants anything from it."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime

LOCAL_OPERATOR = "local-operator"


@dataclass(frozen=True)
class Identity:
    subject: str
    scopes: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    expires_at: datetime | None = None


@dataclass
class Session:
    session_id: str
    token: str | None
    identity: Identity
    created_at: datetime
    expires_at: datetime
    via: str = "token"
    extra: dict[str, str] = field(default_factory=dict)


def identity_of(token: str | None) -> Identity:
    """Claims of a JWT read without verifying it (display only). No token: the open APIs of a
    local platform without auth, where the operator can do everything."""
    if not token:
        return Identity(LOCAL_OPERATOR, ("admin",), ("*",))
    claims = _claims(token)
    if claims is None:
        return Identity("token holder")
    exp = claims.get("exp")
    return Identity(
        subject=str(claims.get("sub") or "token holder"),
        scopes=tuple(str(s) for s in claims.get("scopes") or ()),
        accounts=tuple(str(a) for a in claims.get("accounts") or ()),
        expires_at=datetime.fromtimestamp(exp).astimezone() if isinstance(exp, int | float) else None,
    )


def _claims(token: str) -> dict[str, object] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def can(identity: Identity, scope: str) -> bool:
    """UI hint only (which buttons to show): admin implies trade implies read."""
    if not identity.scopes:
        return True  # an opaque token: let the service decide
    rank = {"read": 0, "trade": 1, "admin": 2}
    return max((rank.get(s, -1) for s in identity.scopes), default=-1) >= rank.get(scope, 9)
