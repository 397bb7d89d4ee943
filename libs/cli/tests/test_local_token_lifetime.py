"""The CLI's local admin token is short-lived; a long-running CLI process (``robson up``
polling a replay, ``apply --wait``) must not keep sending it after it expired."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from robson_cli import auth
from robson_kit.auth import keys, tokens


def test_the_local_admin_token_is_minted_again_once_the_cached_one_has_expired(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBSON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ROBSON_TOKEN", raising=False)
    monkeypatch.delenv("ROBSON_AUTH_SIGNING_KEY_FILE", raising=False)
    monkeypatch.setattr(auth, "LOCAL_TTL", timedelta(seconds=2))
    auth.use_token(None)
    _, public = keys.ensure_keypair(auth.auth_dir())
    key = keys.parse_public(public.read_bytes())
    try:
        tokens.verify(key, auth.current_token() or "")
        time.sleep(3.1)
        tokens.verify(key, auth.current_token() or "")  # TOKEN_EXPIRED while it is cached
    finally:
        auth._local_tokens.clear()
