"""Settings of the dashboard (environment ``ROBSON_DASHBOARD_*``, plus ``NATS_URL``/``DATABASE_URL``)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic_settings import SettingsConfigDict
from robson_kit.settings import ServiceSettings

UPSTREAMS = ("signal", "decision", "entry_gate", "position", "execution", "paper")
DEFAULT_PORTS = {"signal": 8101, "decision": 8102, "entry_gate": 8103, "position": 8104,
                 "execution": 8105, "paper": 8106}
WEB_DIR = Path(__file__).resolve().parents[2] / "web"
"""services/dashboard/web: the front end's source (``src/``) and built vendor assets (``vendor/``)."""


class DashboardSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROBSON_DASHBOARD_", extra="ignore",
                                      populate_by_name=True)

    service_name: str = "dashboard"
    db_schema: str = "dashboard"
    http_port: int = 8108
    signal_url: str = "http://127.0.0.1:8101"
    decision_url: str = "http://127.0.0.1:8102"
    entry_gate_url: str = "http://127.0.0.1:8103"
    position_url: str = "http://127.0.0.1:8104"
    execution_url: str = "http://127.0.0.1:8105"
    paper_url: str = "http://127.0.0.1:8106"
    upstream_timeout_seconds: float = 10.0
    service_token: str | None = None
    """The local operator's bearer token (``robson up`` passes one once auth exists); unset →
    no Authorization header, as today's open APIs expect."""
    operator_login: bool = True
    """Offer "sign in as the local operator" to browsers on this machine (loopback only)."""
    session_hours: float = 12.0
    max_sessions: int = 1000
    max_stream_clients: int = 100
    stream_queue: int = 2000
    """Events a slow browser may have waiting before it is disconnected (it reconnects)."""
    web_dir: Path = WEB_DIR
    backtests_dir: Path = Path(os.environ.get("ROBSON_DATA_DIR", ".data")) / "backtests"
    fetch_assets: bool = True
    """At start-up, fetch lightweight-charts from the npm registry when it is not built yet."""

    def upstream_urls(self) -> dict[str, str]:
        return {name: getattr(self, f"{name}_url").rstrip("/") for name in UPSTREAMS}
