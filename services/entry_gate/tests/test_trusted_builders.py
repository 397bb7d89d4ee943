"""The gate's unvalidated builders give what the validated constructors give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from robson_contracts import CheckResult
from robson_entry_gate.adapters.market import _price
from robson_entry_gate.domain.rules.base import passed
from robson_entry_gate.domain.state import MarketSnapshot

AT = datetime(2024, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(("message", "details"), [
    ("", {}),
    ("within the limit", {"open": 2, "limit": Decimal("0.0500"), "note": "x"}),
])
def test_passed_check_is_the_validated_check_to_the_last_detail(
        message: str, details: dict[str, object]) -> None:
    built = passed("max_open_positions", message, **details)
    validated = CheckResult(rule="max_open_positions", passed=True, message=message,
                            details={k: str(v) for k, v in details.items()})
    assert built == validated
    assert list(built.__dict__) == list(validated.__dict__)
    assert built.model_fields_set == validated.model_fields_set
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_dump(exclude_unset=True) == validated.model_dump(exclude_unset=True)


def test_passed_checks_share_no_set_fields_and_stay_frozen() -> None:
    one, two = passed("a"), passed("b")
    assert one.__pydantic_fields_set__ is not two.__pydantic_fields_set__
    with pytest.raises(ValueError, match="frozen"):
        one.passed = False  # type: ignore[misc]


def test_price_move_is_what_model_copy_gives() -> None:
    held = MarketSnapshot(symbol="BTCUSDT", last_price=Decimal("42000"), price_at=AT,
                          funding_rate=Decimal("0.0001"), context_at=AT)
    later = AT + timedelta(minutes=5)
    moved = _price(held, "BTCUSDT", Decimal("42100.5"), later)
    copied = held.model_copy(update={"last_price": Decimal("42100.5"), "price_at": later})
    assert moved == copied and list(moved.__dict__) == list(copied.__dict__)
    assert moved.model_fields_set == copied.model_fields_set
    assert held.last_price == Decimal("42000") and held.price_at == AT  # the held one unmoved
    assert moved.__pydantic_fields_set__ is not held.__pydantic_fields_set__


def test_price_no_later_than_the_held_one_leaves_the_snapshot_as_it_is() -> None:
    held = MarketSnapshot(symbol="BTCUSDT", last_price=Decimal("42000"), price_at=AT)
    assert _price(held, "BTCUSDT", Decimal("1"), AT) is held
    assert _price(held, "BTCUSDT", Decimal("1"), AT - timedelta(seconds=1)) is held


def test_first_price_of_a_symbol_starts_its_snapshot() -> None:
    first = _price(None, "ETHUSDT", Decimal("2300"), AT)
    assert first == MarketSnapshot(symbol="ETHUSDT", last_price=Decimal("2300"), price_at=AT)
    assert first.model_fields_set == {"symbol", "last_price", "price_at"}
