from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from robson_kit.settings import ServiceSettings


class ExecutionSettings(ServiceSettings):
    """Environment: ``NATS_URL``, ``DATABASE_URL``, and ``ROBSON_EXECUTION_*`` for the rest."""

    model_config = SettingsConfigDict(env_prefix="ROBSON_EXECUTION_", extra="ignore", populate_by_name=True)

    service_name: str = "execution"
    db_schema: str = "execution"
    http_port: int = 8105
    master_keys: str = ""
    """``<version>:<base64 32 bytes>[,...]``, newest first; or use ``master_key_file``."""
    master_key_file: str = ""
    binance_rest_url: str = ""
    """Override of the REST base URL (tests: the fake exchange); empty = Binance by account mode."""
    binance_ws_api_url: str = ""
    request_timeout_seconds: float = 10.0
    poll_interval_seconds: float = Field(5.0, gt=0)
    reconcile_interval_seconds: float = Field(300.0, gt=0)
    submit_idle_seconds: float = Field(0.5, gt=0)
    breaker_threshold: int = 5
    breaker_cool_down_seconds: float = 30.0
    retry_base_seconds: float = 0.2
    balance_tolerance_absolute: Decimal = Decimal("0.00000001")
    balance_tolerance_ratio: Decimal = Decimal("0.0001")
    """A balance differs from what our fills explain when off by more than
    ``max(absolute, ratio x |expected|)`` (then BALANCE_MISMATCH, flagged, never fixed)."""
    rules_refresh_seconds: float = 3600.0
    """Fetch ``exchangeInfo`` again this often (also at once after a filter-failure rejection)."""
    time_sync_interval_seconds: float = 300.0
    """Re-measure the exchange clock offset (``GET /api/v3/time``) this often; also on -1021."""
