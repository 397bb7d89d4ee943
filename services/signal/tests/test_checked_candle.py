"""The backtest's candle builder gives the very candle the validating one gives."""

from __future__ import annotations

from decimal import Decimal

import pytest
from robson_contracts import Candle, FeedSource, Timeframe
from robson_signal.domain.bars import Bar
from robson_signal.domain.events import candle_event, checked_bar_candle
from robson_signal.domain.synthetic import SyntheticMarket

BARS = [
    Bar("BTCUSDT", Timeframe.M5, 1_704_067_200_000, Decimal("42000.10"), Decimal("42100"),
        Decimal("41900.5"), Decimal("42050"), Decimal("12.5")),
    Bar("ETHUSDT", Timeframe.H1, 1_704_070_800_000, Decimal("2300"), Decimal("2300"),
        Decimal("2300"), Decimal("2300"), Decimal("0")),
    *SyntheticMarket(3, "SOLUSDT", Timeframe.M5, 1_704_067_200_000).bars(50),
]


@pytest.mark.parametrize("bar", BARS, ids=lambda b: f"{b.symbol}-{b.open_ms}")
def test_checked_bar_candle_is_the_validated_candle_to_the_last_detail(bar: Bar) -> None:
    validated = candle_event(bar, FeedSource.REPLAY)
    built = checked_bar_candle(bar, FeedSource.REPLAY)
    assert built == validated
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_dump(exclude_unset=True) == validated.model_dump(exclude_unset=True)
    assert Candle.model_validate_json(built.model_dump_json()) == built


def test_checked_bar_candles_do_not_share_their_set_fields() -> None:
    one, two = (checked_bar_candle(b, FeedSource.REPLAY) for b in BARS[:2])
    assert one.__pydantic_fields_set__ is not two.__pydantic_fields_set__
