from __future__ import annotations

from pydantic_settings import SettingsConfigDict
from robson_kit.settings import ServiceSettings


class PaperSettings(ServiceSettings):
    """Environment: ``NATS_URL``, ``DATABASE_URL``, and ``ROBSON_PAPER_*`` for the rest."""

    model_config = SettingsConfigDict(env_prefix="ROBSON_PAPER_", extra="ignore", populate_by_name=True)

    service_name: str = "paper"
    db_schema: str = "paper"
    http_port: int = 8106
