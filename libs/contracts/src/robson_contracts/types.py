"""Shared field types: Decimal money serialized as strings, aware UTC timestamps, ids."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema

MAX_MAGNITUDE = Decimal(10) ** 18
"""Every decimal is below 1e18 in absolute value: no price, quantity, balance or P&L comes near
(a quadrillion USDT is 1e15), and an absurd value such as 1e999999 would print as a megabyte."""
MAX_FRACTION_DIGITS = 40
"""At most 40 digits after the point (trailing zeros aside). Money needs 8 to 18; the slack is
for computed values: Python's 28-digit decimal context gives e.g. 100/64000.5 with 30 fractional
digits, and such values travel between services."""
MAX_DECIMAL_CHARS = 100
"""A decimal string is at most 100 characters (checked before it is parsed)."""


def _check_bounds(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("decimal must be finite")
    if value and value.adjusted() >= 18:  # adjusted(): the exponent of the leading digit
        raise ValueError("magnitude must be below 1e18")
    # The places, read off plain notation: as_tuple() builds a tuple of every digit and costs
    # five times as much. It stays the rule for exponent notation (tiny values, where the limit
    # bites) and for plain values with more places than the limit.
    text = str(value)
    point = text.find(".")
    if "E" not in text and "e" not in text and (point < 0 or len(text) - point - 1 <= MAX_FRACTION_DIGITS):
        return value
    exponent = value.as_tuple().exponent
    if exponent < -MAX_FRACTION_DIGITS and value.normalize().as_tuple().exponent < -MAX_FRACTION_DIGITS:  # type: ignore[operator]
        raise ValueError(f"at most {MAX_FRACTION_DIGITS} digits after the decimal point")
    return value


def decimal_problem(value: Decimal) -> str | None:
    """Why ``value`` cannot travel in a message as a ``Dec`` (not finite, |x| >= 1e18, more
    than 40 places), or None: for code that must refuse such a number before it builds one."""
    try:
        _check_bounds(value)
    except ValueError as exc:
        return str(exc)
    return None


def _decimal_from_wire(value: Any) -> Any:
    """Accept Decimal, int or a numeric string within bounds; refuse floats (binary floats lose
    money)."""
    if isinstance(value, Decimal):  # the common case first: a value built in Python
        return _check_bounds(value)
    if isinstance(value, str):  # then one read from JSON
        if len(value) > MAX_DECIMAL_CHARS:
            raise ValueError(f"decimal strings are at most {MAX_DECIMAL_CHARS} characters")
        try:
            return _check_bounds(Decimal(value))
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal string: {value!r}") from exc
    if isinstance(value, bool):
        raise ValueError("booleans are not numbers")
    if isinstance(value, float):
        raise ValueError("floats are not accepted for money or quantities; send a decimal string")
    if isinstance(value, int) and abs(value) >= MAX_MAGNITUDE:
        raise ValueError("magnitude must be below 1e18")
    return value


_DECIMAL_SCHEMA = {"type": "string", "pattern": r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$", "maxLength": 100}

Dec = Annotated[
    Decimal,
    BeforeValidator(_decimal_from_wire),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="always"),
    WithJsonSchema(_DECIMAL_SCHEMA),
]
"""A finite Decimal, |x| < 1e18, at most 40 fractional digits; JSON carries it as a string,
floats are rejected."""


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


_ZERO, _ONE = Decimal(0), Decimal(1)


def _unit_interval(value: Decimal) -> Decimal:
    if not _ZERO <= value <= _ONE:
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
