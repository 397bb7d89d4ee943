"""The shared decimal type refuses absurd magnitudes and precisions at the edge, naming the
field; values real prices, quantities and money take pass unchanged."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from robson_contracts import BalanceSnapshot, DecodeError, decode, encode
from robson_contracts.types import MAX_FRACTION_DIGITS, Dec

from .test_contracts import NOW

DEC = TypeAdapter(Dec)


def snapshot(free: str) -> dict[str, object]:
    message = BalanceSnapshot(occurred_at=NOW, account_id="acc1", mode="PAPER",
                              balances=({"asset": "USDT", "free": "1", "locked": "0"},))
    data = json.loads(encode(message))
    data["balances"][0]["free"] = free
    return data


@pytest.mark.parametrize("wire", ["1e999999", "-1e18", "1000000000000000000", "1e-41", "NaN",
                                  "-Infinity", "1" * 101])
def test_decimal_out_of_bounds_is_refused(wire: str) -> None:
    with pytest.raises(ValidationError):
        DEC.validate_python(wire)


def test_balance_with_absurd_amount_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as refused:
        BalanceSnapshot.model_validate(snapshot("1e999999"))
    (error,) = refused.value.errors()
    assert error["loc"] == ("balances", 0, "free")
    assert "1e18" in error["msg"]


def test_bus_message_carrying_an_absurd_decimal_fails_decoding_with_a_reason() -> None:
    with pytest.raises(DecodeError) as refused:
        decode(json.dumps(snapshot("1e999999")).encode())
    assert refused.value.reason_code == "INVALID_MESSAGE"
    assert "free" in refused.value.reason


def test_computed_value_with_full_context_precision_passes() -> None:
    value = Decimal(100) / Decimal("64000.5")  # 28 significant digits, 30 after the point
    assert DEC.validate_python(str(value)) == value
    assert DEC.validate_python(value) == value


@settings(max_examples=100)
@given(st.decimals(min_value=Decimal(-(10**18)) + 1, max_value=Decimal(10**18) - 1,
                   places=MAX_FRACTION_DIGITS // 2, allow_nan=False, allow_infinity=False))
def test_any_decimal_within_bounds_round_trips_unchanged(value: Decimal) -> None:
    assert DEC.validate_python(format(value, "f")) == value


def _within_fraction_digits_by_digit_tuple(value: Decimal) -> bool:
    """The rule as first written (``as_tuple``, trailing zeros aside): the reference the faster
    check in ``_check_bounds`` must agree with."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return exponent >= -MAX_FRACTION_DIGITS or \
        value.normalize().as_tuple().exponent >= -MAX_FRACTION_DIGITS  # type: ignore[operator]


@settings(max_examples=400)
@given(st.integers(min_value=-(10**48), max_value=10**48),
       st.integers(min_value=-60, max_value=17), st.integers(min_value=0, max_value=12))
def test_fraction_digit_limit_agrees_with_the_digit_tuple_rule(
        coefficient: int, exponent: int, trailing_zeros: int) -> None:
    """Plain and exponent notation (up to 49 digits: plain notation with 41 places needs 35 or
    more), around 40 places, with trailing zeros that may rescue a value: accepted exactly when
    the digit-tuple rule accepts it."""
    value = Decimal(coefficient * 10**trailing_zeros).scaleb(exponent - trailing_zeros)
    if value and value.adjusted() >= 18:
        return  # refused for its magnitude first: not this test's rule
    for candidate in (value, Decimal(str(value)), Decimal(format(value, "f"))):
        try:
            DEC.validate_python(candidate)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == _within_fraction_digits_by_digit_tuple(candidate), candidate


def test_decimal_problem_names_what_a_message_would_refuse_and_nothing_else() -> None:
    from robson_contracts.types import decimal_problem

    assert decimal_problem(Decimal("123.45")) is None
    assert decimal_problem(Decimal("-999999999999999999")) is None  # 18 digits: |x| < 1e18
    assert decimal_problem(Decimal("1e18")) == "magnitude must be below 1e18"
    assert decimal_problem(Decimal("1e999999999")) == "magnitude must be below 1e18"
    assert decimal_problem(Decimal("1e-47")) == "at most 40 digits after the decimal point"
    assert decimal_problem(Decimal("NaN")) == "decimal must be finite"
