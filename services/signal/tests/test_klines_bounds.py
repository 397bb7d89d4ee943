"""The kline reader's shortcut for values written plainly within a Candle's bounds may only
pass what the value-by-value check (``decimal_problem``) passes."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st
from robson_contracts.types import decimal_problem
from robson_signal.domain.klines_csv import WRITTEN_IN_BOUNDS

DIGITS = "0123456789"


@st.composite
def plain_numbers(draw: st.DrawFn) -> str:
    """Plain decimal spellings around the limits: 0–20 digits before the point (leading zeros
    included), 0–42 after it (trailing zeros included), either sign."""
    sign = draw(st.sampled_from(["", "-", "+"]))
    whole = draw(st.text(DIGITS, min_size=0, max_size=20))
    fraction = draw(st.none() | st.text(DIGITS, min_size=0, max_size=42))
    text = sign + whole + ("" if fraction is None else "." + fraction)
    return text if any(ch.isdigit() for ch in text) else text + "0"


@given(plain_numbers())
@example("999999999999999999")
@example("9" * 18 + "." + "9" * 40)
@example("0" * 18 + "." + "0" * 39 + "1")
def test_a_value_the_shortcut_passes_has_no_problem(text: str) -> None:
    if WRITTEN_IN_BOUNDS.fullmatch(text):
        assert decimal_problem(Decimal(text)) is None


@given(plain_numbers())
def test_the_shortcut_passes_every_plain_value_of_at_most_18_and_40_digits(text: str) -> None:
    whole, _, fraction = text.lstrip("-").partition(".")
    plain = not text.startswith("+") and whole != "" and ("." not in text or fraction != "")
    if plain and len(whole) <= 18 and len(fraction) <= 40:
        assert WRITTEN_IN_BOUNDS.fullmatch(text)


def test_values_past_the_limits_are_left_to_the_full_check() -> None:
    for text in ("1" + "0" * 18, "0." + "0" * 40 + "1", "1E-41", "Infinity", "NaN", " 12.5",
                 "1." + "0" * 41):
        assert WRITTEN_IN_BOUNDS.fullmatch(text) is None
