"""Operator verbs against a fake remote service: status follows the profile (its token, the
default profile), and list limits outside their range are usage errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from robson_cli.main import app
from typer.testing import CliRunner


class _Fake(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        _Fake.seen.append((self.path, self.headers.get("Authorization")))
        path = self.path.split("?")[0]
        if path.endswith("/readyz"):
            body, code = {"checks": {}}, 200
        elif self.headers.get("Authorization") != "Bearer file-token":
            body, code = {"detail": "MISSING_TOKEN"}, 401
        elif path.endswith("/feed"):
            body, code = {"state": "RUNNING", "finished": False}, 200
        elif path.endswith("/accounts"):
            body, code = [{"account_id": "acc1", "equity": "100", "balances": []}], 200
        else:
            body, code = [], 200
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    (tmp_path / "robson").mkdir()
    (tmp_path / "prod.token").write_text("file-token\n")
    (tmp_path / "robson" / "profiles.yaml").write_text(json.dumps(
        {"default": "prod", "profiles": {"prod": {"url": url, "token_file": str(tmp_path / "prod.token")}}}))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("ROBSON_DATA_DIR", str(tmp_path / "data"))  # no run.json, no signing key
    monkeypatch.delenv("ROBSON_TOKEN", raising=False)
    monkeypatch.delenv("ROBSON_URL", raising=False)
    monkeypatch.delenv("ROBSON_PROFILE", raising=False)
    _Fake.seen.clear()
    yield url
    server.shutdown()


def test_status_with_a_profile_sends_the_profiles_token(remote: str) -> None:
    result = CliRunner().invoke(app, ["--profile", "prod", "status", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert "error" not in doc["feed"], doc["feed"]
    assert doc["accounts_equity"] == [{"account_id": "acc1", "equity": "100", "balances": []}]


def test_status_follows_the_default_profile_like_every_other_verb(remote: str) -> None:
    positions = CliRunner().invoke(app, ["positions", "--json"])
    assert positions.exit_code == 0, positions.output  # the default profile is used
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["running"] is True


def test_notifications_limit_outside_1_500_is_exit_2(remote: str) -> None:
    result = CliRunner().invoke(app, ["notifications", "--limit", "501"])
    assert result.exit_code == 2, (result.exit_code, result.output)


def test_dlq_list_with_a_negative_limit_is_a_usage_error_not_a_traceback(
        nats_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", nats_url)
    result = CliRunner().invoke(app, ["dlq", "list", "--limit", "-1"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, result.output
