"""How the CLI shows numbers and times: prices to the symbol's tick, quantities to its step,
money to cents, percentages to two places, one time format (local, or UTC with --utc)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from robson_paper.domain.rules import DEFAULT_RULES

CENT = Decimal("0.01")
DASH = "—"


class Display:
    utc: bool = False
    """Set by the global --utc option."""


def dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        return None
    return out if out.is_finite() else None


def _fixed(value: Decimal, places: Decimal) -> str:
    return format(value.quantize(places, ROUND_HALF_EVEN), ",f")


def _trimmed(value: Decimal, max_places: int = 8) -> str:
    """No exponent, no trailing zeros, at most ``max_places`` decimals: 0E+10 → 0."""
    text = format(value.quantize(Decimal(1).scaleb(-max_places), ROUND_HALF_EVEN), ",f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _unit(step: Decimal) -> Decimal:
    """0.01000000 → 0.01: the places a tick or step size really has."""
    return Decimal(1).scaleb(step.normalize().as_tuple().exponent) if step else Decimal(1)


def price(value: Any, symbol: str | None = None) -> str:
    d = dec(value)
    if d is None:
        return DASH
    rules = DEFAULT_RULES.get(symbol or "")
    return _fixed(d, _unit(rules.tick_size)) if rules else _trimmed(d)


def qty(value: Any, symbol: str | None = None) -> str:
    d = dec(value)
    if d is None:
        return DASH
    rules = DEFAULT_RULES.get(symbol or "")
    return _fixed(d, _unit(rules.step_size)) if rules else _trimmed(d)


def amount(value: Any) -> str:
    """An asset balance: exact, without exponent or trailing zeros."""
    d = dec(value)
    return DASH if d is None else _trimmed(d)


def money(value: Any) -> str:
    d = dec(value)
    return DASH if d is None else _fixed(d, CENT)


def pct(value: Any, scaled: bool = False) -> str:
    """A fraction (0.0123 → 1.23%), or a value already in percent with ``scaled``."""
    d = dec(value)
    if d is None:
        return DASH
    return f"{_fixed(d if scaled else d * 100, CENT)}%"


def when(value: Any) -> str:
    """One time format everywhere: local time (or UTC with --utc), seconds, with the zone."""
    if value in (None, ""):
        return DASH
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    at = at.astimezone(UTC) if Display.utc else at.astimezone()
    return at.strftime("%Y-%m-%d %H:%M:%S ") + ("UTC" if Display.utc else at.strftime("%Z"))


def seconds(value: Any) -> str:
    d = dec(value)
    if d is None:
        return DASH
    s = int(abs(d))
    text = f"{s // 86400}d {s % 86400 // 3600}h" if s >= 86400 else (
        f"{s // 3600}h {s % 3600 // 60}m" if s >= 3600 else f"{s // 60}m {s % 60}s" if s >= 60 else f"{s}s")
    return ("-" if d < 0 else "") + text
