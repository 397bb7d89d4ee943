"""Trader bindings: which strategy a trader runs on which symbols and timeframes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from robson_contracts import Timeframe
from robson_contracts.types import Identifier, Symbol


class TraderBinding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    trader_id: Identifier
    account_id: Identifier
    strategy: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = {}
    symbols: tuple[Symbol, ...] = Field(min_length=1)
    timeframes: tuple[Timeframe, ...] = Field(min_length=1)
    enabled: bool = True
    webhook_secret_sha256: str | None = None
    """Hash of the secret external webhooks for this trader must present (never the secret)."""

    @field_validator("symbols", "timeframes")
    @classmethod
    def _unique(cls, values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(dict.fromkeys(values))

    def public(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"webhook_secret_sha256"})
        data["webhook_enabled"] = self.webhook_secret_sha256 is not None
        return data
