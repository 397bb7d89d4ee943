from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from robson_kit.settings import ServiceSettings


class ExecutionSettings(ServiceSettings):
    """Environment: ``NATS_URL``, ``DATABASE_URL``, and ``ROBSON_EXECUTION_*`` for the rest."""

    model_config = SettingsConfigDict(env_prefix="ROBSON_EXECUTION_", extra="ignore", populate_by_name=True)

    service_name: str = "execution"
    db_schema: str = "execution"
    http_port: int = 8105
