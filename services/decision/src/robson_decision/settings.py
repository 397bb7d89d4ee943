from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from robson_kit.settings import ServiceSettings


class DecisionSettings(ServiceSettings):
    """Environment: ``NATS_URL``, ``DATABASE_URL``, and ``ROBSON_DECISION_*`` for the rest."""

    model_config = SettingsConfigDict(env_prefix="ROBSON_DECISION_", extra="ignore", populate_by_name=True)

    service_name: str = "decision"
    db_schema: str = "decision"
    http_port: int = 8102
