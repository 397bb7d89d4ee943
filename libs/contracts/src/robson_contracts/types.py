"""Shared field types: Decimal money serialized as strings, aware UTC timestamps, ids."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema

MAX_DECIMAL_EXPONENT = 40
"""|exponent| bound of any Decimal on the wire: far beyond any price, quantity or ratio, and it
keeps a value like ``1e999999999`` from expanding to a billion digits when written out."""


def _bounded(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("decimal must be finite")
    if value and abs(value.adjusted()) > MAX_DECIMAL_EXPONENT:
        raise ValueError(f"decimal out of range (magnitude beyond 1e±{MAX_DECIMAL_EXPONENT})")
    return value


def _decimal_from_wire(value: Any) -> Any:
    """Accept Decimal, int or a numeric string; refuse floats (binary floats lose money)."""
    if isinstance(value, bool):
        raise ValueError("booleans are not numbers")
    if isinstance(value, float):
        raise ValueError("floats are not accepted for money or quantities; send a decimal string")
    if isinstance(value, str):
        try:
            parsed = Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal string: {value!r}") from exc
        return _bounded(parsed)
    if isinstance(value, Decimal):
        return _bounded(value)
    if isinstance(value, int) and value and abs(value).bit_length() > 140:  # beyond 1e42
        raise ValueError(f"decimal out of range (magnitude beyond 1e±{MAX_DECIMAL_EXPONENT})")
    return value


_DECIMAL_SCHEMA = {"type": "string", "pattern": r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$"}

Dec = Annotated[
    Decimal,
    BeforeValidator(_decimal_from_wire),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="always"),
    WithJsonSchema(_DECIMAL_SCHEMA),
]
"""A finite Decimal; JSON carries it as a string, floats are rejected."""


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _unit_interval(value: Decimal) -> Decimal:
    if not Decimal(0) <= value <= Decimal(1):
        raise ValueError("must be between 0 and 1")
    return value


PositiveDec = Annotated[Dec, AfterValidator(_positive)]
NonNegativeDec = Annotated[Dec, AfterValidator(_non_negative)]
Fraction = Annotated[Dec, AfterValidator(_unit_interval)]


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a timezone (UTC)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_aware_utc)]

Symbol = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,20}$", examples=["BTCUSDT"])]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
"""Ids that appear as subject tokens: no dots, wildcards or spaces."""
OrderRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:/-]{1,36}$")]
"""Order ids double as Binance clientOrderId, so they follow its 36-char alphabet."""


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class PositionSide(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"

    @property
    def entry_order_side(self) -> Side:
        return Side.BUY if self is PositionSide.LONG else Side.SELL

    @property
    def exit_order_side(self) -> Side:
        return Side.SELL if self is PositionSide.LONG else Side.BUY


class Timeframe(StrEnum):
    M1 = "1m"
    M3 = "3m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H2 = "2h"
    H4 = "4h"
    D1 = "1d"

    @property
    def seconds(self) -> int:
        unit = self.value[-1]
        amount = int(self.value[:-1])
        return amount * {"m": 60, "h": 3600, "d": 86400}[unit]


class TradingMode(StrEnum):
    PAPER = "PAPER"
    LIVE = "LIVE"
