"""``SymbolRules``: a venue's filters for one symbol, on a subject of their own, in a stream of
latest values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError
from robson_contracts import SymbolRules, TradingMode, decode, encode, subject_for
from robson_contracts import subjects as s

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def rules(**over: object) -> SymbolRules:
    values: dict[str, object] = dict(
        occurred_at=T0, venue="PAPER", symbol="BTCUSDT", base_asset="BTC", quote_asset="USDT",
        tick_size="0.01", step_size="0.00001", min_qty="0.00001", max_qty="9000",
        min_notional="5")
    values.update(over)
    return SymbolRules.model_validate(values)


def test_symbol_rules_travel_on_their_venue_and_symbol_subject_in_a_latest_value_stream() -> None:
    paper, live = rules(), rules(venue="LIVE")
    assert subject_for(paper) == "robson.venue.rules.paper.BTCUSDT" == s.venue_rules("PAPER", "BTCUSDT")
    assert subject_for(live) == "robson.venue.rules.live.BTCUSDT"
    [stream] = [spec for spec in s.STREAMS if any(
        subject_for(paper).startswith(f.rstrip(">")) for f in spec.subjects)]
    assert stream is s.VENUES and stream.max_msgs_per_subject == 1
    assert s.ALL_VENUE_RULES == "robson.venue.rules.>"
    again = decode(encode(paper))
    assert again == paper and again.step_size == Decimal("0.00001")
    assert again.venue is TradingMode.PAPER


@pytest.mark.parametrize("field, value", [
    ("step_size", "0"), ("tick_size", "-0.01"), ("min_qty", "-1"), ("min_notional", "1e18"),
    ("step_size", 0.001), ("base_asset", "btc"), ("status", "trading now"),
])
def test_symbol_rules_refuse_what_no_venue_could_mean(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        rules(**{field: value})


def test_symbol_rules_refuse_a_maximum_below_the_minimum() -> None:
    with pytest.raises(ValidationError, match="max_qty"):
        rules(min_qty="1", max_qty="0.5")
    assert rules(max_qty=None).max_qty is None


def test_the_fingerprint_is_the_rules_alone_however_their_numbers_are_written() -> None:
    one, same = rules(), rules(step_size="1E-5", tick_size="0.010", occurred_at=datetime(2025, 1, 1, tzinfo=UTC))
    assert one.message_id != same.message_id and one.same_rules(same)
    assert one.fingerprint() == same.fingerprint()
    assert not one.same_rules(rules(step_size="0.0001"))
    assert not one.same_rules(rules(venue="LIVE"))
