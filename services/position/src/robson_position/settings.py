from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from robson_kit.settings import ServiceSettings


class PositionSettings(ServiceSettings):
    """Environment: ``NATS_URL``, ``DATABASE_URL``, and ``ROBSON_POSITION_*`` for the rest."""

    model_config = SettingsConfigDict(env_prefix="ROBSON_POSITION_", extra="ignore", populate_by_name=True)

    service_name: str = "position"
    db_schema: str = "position"
    http_port: int = 8104
    paper_url: str = "http://127.0.0.1:8106"
    """HTTP API of ``paper`` (venue PAPER), read at start-up to re-sync open orders."""
    execution_url: str = "http://127.0.0.1:8105"
    """HTTP API of ``execution`` (venue LIVE)."""
    resync_on_start: bool = True
    resync_timeout_seconds: float = 5.0
    resync_retry_seconds: float = 2.0
    resync_attempts: int = 30
    """Start-up re-sync retries while a venue is unreachable (it may start after position)."""
    decision_wait_seconds: float = Field(2.0, ge=0, le=3.0)
    """How long a decision made on a candle waits for position to mark that candle first
    (``handlers/waiting.py``); kept under the server's delivery limit at 0.1 s per ask."""
    stop_watchdog_interval_seconds: float = Field(2.0, ge=0)
    """How often every holding position's stop is checked at its venue (0 turns it off)."""
    stop_watchdog_grace_seconds: float = 10.0
    """A position found without a working stop is re-protected at once; still without one
    after this long, it is closed at market."""
