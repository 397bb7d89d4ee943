from __future__ import annotations

from pydantic_settings import SettingsConfigDict
from robson_kit.settings import ServiceSettings


class PositionSettings(ServiceSettings):
    """Environment: ``NATS_URL``, ``DATABASE_URL``, and ``ROBSON_POSITION_*`` for the rest."""

    model_config = SettingsConfigDict(env_prefix="ROBSON_POSITION_", extra="ignore", populate_by_name=True)

    service_name: str = "position"
    db_schema: str = "position"
    http_port: int = 8104
