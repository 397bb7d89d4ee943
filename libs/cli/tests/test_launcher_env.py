"""What the launcher tells each service process about its peers."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from robson_cli.launcher import Platform, RunningService, run_file
from robson_cli.services import by_name
from robson_kit.auth import Scope, keys, tokens


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ROBSON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ROBSON_AUTH_PUBLIC_KEY", "inherited from the parent")
    return tmp_path / "data"


def _platform_with(*running: tuple[str, int]) -> Platform:
    infra = SimpleNamespace(nats_url="nats://127.0.0.1:1", database_url="postgresql://x@127.0.0.1:2/db")
    platform = Platform(infra)  # type: ignore[arg-type]
    platform.services = [RunningService(by_name(name), port, Path("/dev/null")) for name, port in running]
    return platform


def test_position_env_with_venues_on_other_ports_points_resync_at_them() -> None:
    platform = _platform_with(("paper", 41006), ("execution", 41005))
    env = platform.env_for(by_name("position"), 41004)
    assert env["ROBSON_POSITION_PAPER_URL"] == "http://127.0.0.1:41006"
    assert env["ROBSON_POSITION_EXECUTION_URL"] == "http://127.0.0.1:41005"
    assert env["ROBSON_POSITION_HTTP_PORT"] == "41004"


def test_other_services_get_no_peer_urls() -> None:
    platform = _platform_with(("paper", 41006), ("entry_gate", 41003))
    env = platform.env_for(by_name("decision"), 41002)
    assert not any(key.endswith("_URL") for key in env if key.startswith("ROBSON_DECISION_"))


def test_signal_env_points_its_lockstep_at_the_gate_with_a_read_only_token(data_dir: Path) -> None:
    platform = _platform_with(("paper", 41006), ("entry_gate", 41003))
    env = platform.env_for(by_name("signal"), 41001)
    assert env["ROBSON_SIGNAL_GATE_URL"] == "http://127.0.0.1:41003"
    assert not any(key.endswith("_PAPER_URL") for key in env if key.startswith("ROBSON_SIGNAL_"))
    public = keys.parse_public((data_dir / "auth" / keys.PUBLIC_NAME).read_bytes())
    principal = tokens.verify(public, env["ROBSON_SIGNAL_SERVICE_TOKEN"])
    assert principal.subject == "service:signal" and principal.has(Scope.READ)
    assert not principal.has(Scope.TRADE) and not principal.has(Scope.ADMIN)


def test_services_get_the_platform_public_key_and_only_callers_a_read_service_token(data_dir: Path) -> None:
    platform = _platform_with(("paper", 41006), ("execution", 41005))
    decision_env = platform.env_for(by_name("decision"), 41002)
    position_env = platform.env_for(by_name("position"), 41004)
    private = data_dir / "auth" / keys.PRIVATE_NAME
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert decision_env["ROBSON_AUTH_PUBLIC_KEY_FILE"] == str(data_dir / "auth" / keys.PUBLIC_NAME)
    assert "ROBSON_AUTH_PUBLIC_KEY" not in decision_env  # no inherited key overrides the file
    assert not any(k.endswith("SERVICE_TOKEN") for k in decision_env)
    public = keys.parse_public((data_dir / "auth" / keys.PUBLIC_NAME).read_bytes())
    principal = tokens.verify(public, position_env["ROBSON_POSITION_SERVICE_TOKEN"])
    assert principal.subject == "service:position" and principal.has(Scope.READ)
    assert not principal.has(Scope.TRADE)


def test_run_file_records_urls_without_passwords(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    infra = SimpleNamespace(nats_url="nats://robson:natspw@127.0.0.1:1",
                            database_url="postgresql://robson:dbpw-secret@127.0.0.1:2/db", embedded={})
    Platform(infra).write_run_file({"mode": "replay"})  # type: ignore[arg-type]
    text = run_file().read_text()
    assert "dbpw-secret" not in text and "natspw" not in text
    assert json.loads(text)["database_url"] == "postgresql://robson:***@127.0.0.1:2/db"
