"""Command: accept an external (TradingView-style) signal for a trader."""

from __future__ import annotations

import hmac
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from robson_contracts import SignalDetected, SignalDirection, SignalOrigin, Timeframe, derive_id
from robson_contracts.types import Dec, Fraction, Identifier, PositiveDec
from robson_kit.uow import UnitOfWork

from robson_signal.adapters import repository as repo
from robson_signal.domain.engine import StrategyEngine
from robson_signal.handlers.bindings import secret_hash

DIRECTIONS = {
    "buy": SignalDirection.LONG,
    "long": SignalDirection.LONG,
    "sell": SignalDirection.SHORT,
    "short": SignalDirection.SHORT,
    "flat": SignalDirection.NEUTRAL,
    "neutral": SignalDirection.NEUTRAL,
    "close": SignalDirection.NEUTRAL,
}


class WebhookRejected(Exception):
    def __init__(self, status: int, reason_code: str, reason: str) -> None:
        super().__init__(f"{reason_code}: {reason}")
        self.status, self.reason_code, self.reason = status, reason_code, reason


class ExternalSignal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    trader_id: Identifier
    secret: str | None = None
    symbol: str = Field(min_length=2, max_length=40)
    action: Literal["buy", "sell", "long", "short", "flat", "neutral", "close"]
    price: PositiveDec
    timeframe: Timeframe | None = None
    strength: Fraction = Decimal("1")
    time: datetime | None = None
    strategy: str = Field("external", min_length=1, max_length=100)
    features: dict[str, Dec] = {}

    @field_validator("action", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("symbol")
    @classmethod
    def _plain_symbol(cls, value: str) -> str:
        """TradingView sends ``BINANCE:BTCUSDT`` or perpetuals as ``BTCUSDT.P``."""
        symbol = value.split(":")[-1].removesuffix(".P").upper()
        if not symbol.isalnum():
            raise ValueError(f"symbol {value!r} is not a Binance symbol")
        return symbol

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("time must carry a timezone (e.g. 2024-05-01T10:00:00Z)")
        return value


async def accept_external_signal(
    payload: ExternalSignal, header_secret: str | None, engine: StrategyEngine, uow: UnitOfWork
) -> tuple[SignalDetected, bool]:
    """Returns the signal and whether it was new (False: a duplicate id, nothing emitted)."""
    binding = engine.bindings.get(payload.trader_id)
    if binding is None:
        raise WebhookRejected(404, "UNKNOWN_TRADER", f"trader {payload.trader_id!r} is not bound")
    if binding.webhook_secret_sha256 is None:
        raise WebhookRejected(
            403, "WEBHOOK_DISABLED", "this trader has no webhook secret configured"
        )
    presented = payload.secret or header_secret or ""
    if not hmac.compare_digest(secret_hash(presented), binding.webhook_secret_sha256):
        raise WebhookRejected(401, "BAD_SECRET", "webhook secret does not match")
    when = payload.time or uow.clock.now()
    signal_id = str(derive_id("external-signal", payload.trader_id, payload.id))
    signal = SignalDetected(
        message_id=derive_id("signal-message", signal_id),
        occurred_at=when,
        account_id=binding.account_id,
        signal_id=signal_id,
        strategy=payload.strategy,
        trader_id=payload.trader_id,
        symbol=payload.symbol,
        timeframe=payload.timeframe or binding.timeframes[0],
        direction=DIRECTIONS[payload.action],
        strength=payload.strength,
        price=payload.price,
        candle_time=when,
        features=payload.features,
        origin=SignalOrigin.EXTERNAL,
    )
    new = await repo.insert_signals(uow.session, [signal])
    if new:
        uow.emit(signal)
    return signal, bool(new)
