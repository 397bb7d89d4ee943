"""Tokens for tests: the pytest plugin gives every service in the session (in-process or a child
process) this session's test public key; tests mint tokens with the matching private key."""

from __future__ import annotations

import os
from datetime import timedelta

from robson_kit.auth import keys, tokens

_KEY = keys.generate()
PUBLIC_PEM = keys.public_pem(_KEY).decode()


def install_test_key() -> None:
    """Every service settings object built from now on verifies with the test key."""
    os.environ["ROBSON_AUTH_PUBLIC_KEY"] = PUBLIC_PEM
    os.environ.pop("ROBSON_AUTH_PUBLIC_KEY_FILE", None)


def token(*scopes: str, accounts: list[str] | None = None, subject: str = "test-admin",
          ttl: timedelta = timedelta(hours=2), jti: str | None = None) -> str:
    return tokens.mint(_KEY, subject, list(scopes or ("admin",)), accounts, ttl, jti=jti)


def auth_headers(*scopes: str, accounts: list[str] | None = None, subject: str = "test-admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*scopes, accounts=accounts, subject=subject)}"}


ADMIN_HEADERS = auth_headers("admin", subject="test-admin")
