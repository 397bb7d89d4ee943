from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from robson_kit.settings import ServiceSettings


class EntryGateSettings(ServiceSettings):
    """Environment: ``NATS_URL``, ``DATABASE_URL``, and ``ROBSON_ENTRY_GATE_*`` for the rest."""

    model_config = SettingsConfigDict(env_prefix="ROBSON_ENTRY_GATE_", extra="ignore", populate_by_name=True)

    service_name: str = "entry_gate"
    db_schema: str = "entry_gate"
    http_port: int = 8103
    limits_interval_seconds: float = Field(5.0, gt=0)
    """Clock tick of the loss-limit sweep (limits are also judged on every event)."""
