"""The backtest's candle builder gives the very candle the validating one gives."""

from __future__ import annotations

from decimal import Decimal

import pytest
from robson_contracts import Candle, FeedSource, Timeframe, TradeTick
from robson_signal.domain.bars import Bar
from robson_signal.domain.events import (
    _candle_values,
    candle_event,
    checked_bar_candle,
    path_ticks,
)
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


@pytest.mark.parametrize("bar", BARS[:3], ids=lambda b: f"{b.symbol}-{b.open_ms}")
def test_built_candle_and_path_ticks_are_what_model_construct_and_validation_give(bar: Bar) -> None:
    """Built field by field (``_trusted``): the very objects ``model_construct`` builds, equal
    to validated ones, to their set fields and the order of their ``__dict__``."""
    built = checked_bar_candle(bar, FeedSource.REPLAY)
    defaults = {"causation_id": None, "schema_version": 1, "tenant_id": "default",
                "message_type": "Candle"}
    fields = {k: v for k, v in _candle_values(bar, FeedSource.REPLAY).items()
              if k not in defaults}
    constructed = Candle.model_construct(set(fields), **fields, **defaults)
    for a, b in ((built, constructed), (built, candle_event(bar, FeedSource.REPLAY))):
        assert a == b and list(a.__dict__) == list(b.__dict__)
        assert a.model_fields_set == b.model_fields_set
    for tick in path_ticks(bar, FeedSource.REPLAY, built.message_id):
        validated = TradeTick(**tick.__dict__)
        assert tick == validated and list(tick.__dict__) == list(validated.__dict__)
        assert tick.model_dump_json() == validated.model_dump_json()
        assert tick.model_fields_set == set(TradeTick.model_fields)
