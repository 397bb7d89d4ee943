"""Which token the CLI sends: ``--token``, else ``ROBSON_TOKEN``, else a short-lived admin token
minted from this machine's signing key (``.data/auth/``), so the local operator needs no step."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from robson_kit.auth import keys, tokens

_override: str | None = None
LOCAL_TTL = timedelta(hours=1)
SERVICE_TTL = timedelta(days=30)


def data_dir() -> Path:
    return Path(os.environ.get("ROBSON_DATA_DIR", ".data")).resolve()


def auth_dir() -> Path:
    return data_dir() / "auth"


def signing_key_path() -> Path:
    """``ROBSON_AUTH_SIGNING_KEY_FILE`` (e.g. a mounted Secret), else ``.data/auth/signing_key.pem``."""
    return Path(os.environ.get("ROBSON_AUTH_SIGNING_KEY_FILE") or auth_dir() / keys.PRIVATE_NAME)


def use_token(token: str | None) -> None:
    global _override
    _override = token or None


def current_token() -> str | None:
    if _override:
        return _override
    if env := os.environ.get("ROBSON_TOKEN"):
        return env
    path = signing_key_path()
    return _local_admin_token(str(path)) if path.is_file() else None


_local_tokens: dict[str, tuple[str, datetime]] = {}


def _local_admin_token(path: str) -> str:
    """Minted once per process and reused, then minted again when half its lifetime is gone (a
    long-running command, e.g. `robson up` following a replay, outlives one token)."""
    now = datetime.now(UTC)
    cached = _local_tokens.get(path)
    if cached is None or cached[1] - now < LOCAL_TTL / 2:
        value = tokens.mint(keys.load_private(Path(path)), local_operator(), ["admin"], ttl=LOCAL_TTL, now=now)
        cached = _local_tokens[path] = (value, now + LOCAL_TTL)
    return cached[0]


def service_token(service: str, scopes: list[str], subject: str | None = None) -> str:
    """A peer-calling service's own token (minimal scope), minted at `robson up`; ``subject``
    names whom it acts for when that is a person (the dashboard's local operator)."""
    return tokens.mint(keys.load_private(signing_key_path()), subject or f"service:{service}", scopes,
                       ttl=SERVICE_TTL)


def local_operator() -> str:
    """Who the local operator is in audit rows (the CLI's and the dashboard's local sign-in)."""
    return f"local:{_user()}"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"
