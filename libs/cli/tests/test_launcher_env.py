"""What the launcher tells each service process about its peers."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from robson_cli.launcher import Platform, RunningService
from robson_cli.services import by_name


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
    platform = _platform_with(("paper", 41006))
    env = platform.env_for(by_name("signal"), 41001)
    assert not any(key.endswith("_PAPER_URL") for key in env if key.startswith("ROBSON_SIGNAL_"))
