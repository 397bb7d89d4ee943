from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from robson_kit.settings import ServiceSettings

from robson_decision.domain.settings import MAX_HOLDING_CANDLES


class DecisionSettings(ServiceSettings):
    """Environment: ``NATS_URL``, ``DATABASE_URL``, and ``ROBSON_DECISION_*`` for the rest."""

    model_config = SettingsConfigDict(
        env_prefix="ROBSON_DECISION_", extra="ignore", populate_by_name=True
    )

    service_name: str = "decision"
    db_schema: str = "decision"
    http_port: int = 8102

    llm_base_url: str | None = None
    """OpenAI-compatible endpoint, e.g. https://openrouter.ai/api/v1 or http://127.0.0.1:11434/v1."""
    llm_api_key: SecretStr | None = None
    llm_model: str = "openai/gpt-4o-mini"
    llm_timeout_seconds: float = 10.0
    llm_max_attempts: int = 3
    llm_backoff_initial_seconds: float = 0.2
    llm_backoff_max_seconds: float = 2.0
    llm_mode: Literal["live", "replay"] = "live"
    """replay: answers only from the model-call record; a missing record is an error."""
    llm_ask_ahead_concurrency: int = Field(4, ge=1, le=32)
    """How many model calls of one fetched batch (signals, reviews) are asked at once: the
    signals of many symbols closing the same candle wait for a few calls' time, not one per
    signal. 1: one after another."""
    approval_poll_seconds: float = Field(0.25, gt=0)
    candles_kept: int = Field(500, ge=MAX_HOLDING_CANDLES, le=100_000)
    """Closed candles kept per symbol and timeframe (a time exit counts its candles in them)."""
