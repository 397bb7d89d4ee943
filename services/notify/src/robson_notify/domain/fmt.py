"""Plain-text formatting of figures: no exponents, no trailing zeros, signed P&L."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def num(value: Decimal | None) -> str:
    if value is None:
        return "—"
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


CENT = Decimal("0.01")


def money(value: Decimal, asset: str = "USDT") -> str:
    rounded = value.quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "+" if rounded > 0 else ""
    return f"{sign}{format(rounded, 'f')} {asset}"


def clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
