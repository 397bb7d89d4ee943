from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from robson_kit.settings import ServiceSettings


class SignalSettings(ServiceSettings):
    """Environment: ``NATS_URL``, ``DATABASE_URL``, and ``ROBSON_SIGNAL_*`` for the rest."""

    model_config = SettingsConfigDict(env_prefix="ROBSON_SIGNAL_", extra="ignore", populate_by_name=True)

    service_name: str = "signal"
    db_schema: str = "signal"
    http_port: int = 8101
