"""EdDSA (Ed25519) JWTs: mint with the private key (CLI, launcher), verify with the public key
(every service)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from robson_kit.auth.scopes import ALL_ACCOUNTS, Principal, Scope

ALGORITHM = "EdDSA"
ISSUER = AUDIENCE = "robson"
MAX_TOKEN_CHARS = 4096
MAX_TTL = timedelta(days=365)
MAX_ACCOUNTS = 256
DEFAULT_TTL = timedelta(hours=12)


class TokenRejected(Exception):
    """Why a bearer token is refused; ``code`` is the reason code the 401 names."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def mint(key: Ed25519PrivateKey, subject: str, scopes: list[Scope] | list[str],
         accounts: list[str] | None = None, ttl: timedelta = DEFAULT_TTL,
         now: datetime | None = None, jti: str | None = None) -> str:
    if not scopes:
        raise ValueError("a token needs at least one scope")
    if ttl > MAX_TTL:
        raise ValueError(f"ttl {ttl} exceeds the maximum {MAX_TTL}")
    issued = now or datetime.now(UTC)
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": subject,
        "scopes": sorted({Scope(s).value for s in scopes}),
        "accounts": sorted(set(accounts or [ALL_ACCOUNTS])),
        "jti": jti or uuid.uuid4().hex,
        "iat": int(issued.timestamp()), "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify(key: Ed25519PublicKey, token: str) -> Principal:
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRejected("MALFORMED_TOKEN", f"token longer than {MAX_TOKEN_CHARS} characters")
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "jti", "aud", "iss"]})
    except jwt.ExpiredSignatureError:
        raise TokenRejected("TOKEN_EXPIRED", "the token has expired") from None
    except jwt.InvalidSignatureError:
        raise TokenRejected("BAD_SIGNATURE", "the token is not signed by this platform's key") from None
    except jwt.InvalidTokenError as exc:
        raise TokenRejected("INVALID_TOKEN", type(exc).__name__) from None
    return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    scopes, accounts = claims.get("scopes"), claims.get("accounts")
    if not isinstance(scopes, list) or not scopes or not all(s in Scope._value2member_map_ for s in scopes):
        raise TokenRejected("INVALID_TOKEN", "claim 'scopes' must list read, trade or admin")
    if (not isinstance(accounts, list) or not accounts or len(accounts) > MAX_ACCOUNTS
            or not all(isinstance(a, str) and 0 < len(a) <= 64 for a in accounts)):
        raise TokenRejected("INVALID_TOKEN", "claim 'accounts' must list account ids or '*'")
    if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 128:
        raise TokenRejected("INVALID_TOKEN", "claim 'sub' must be a short string")
    return Principal(
        subject=claims["sub"], scopes=frozenset(Scope(s) for s in scopes),
        accounts=frozenset(accounts), jti=str(claims["jti"]),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a token without checking it (the CLI shows what it revokes)."""
    return jwt.decode(token, options={"verify_signature": False})
