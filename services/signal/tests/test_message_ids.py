"""A candle's and a signal's ids are uuid5 of their causes' text: the same whatever types
carry them in (stored and replayed ids must not change)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from robson_contracts import Timeframe
from robson_contracts.base import ROBSON_NAMESPACE
from robson_signal.domain.bars import Bar
from robson_signal.domain.engine import candle_message_id, signal_id_for


@pytest.mark.parametrize("timeframe", list(Timeframe))
def test_candle_id_is_uuid5_of_the_timeframes_text(timeframe: Timeframe) -> None:
    got = candle_message_id("BTCUSDT", timeframe, 1_704_067_200_000)
    assert got == uuid.uuid5(ROBSON_NAMESPACE, f"candle/BTCUSDT/{timeframe.value}/1704067200000")


def test_candle_id_of_a_5m_candle_is_the_one_derived_before() -> None:
    assert str(candle_message_id("BTCUSDT", Timeframe.M5, 1_704_067_200_000)) == \
        "1d166912-1e44-5956-9d39-a56bc1cd95a2"


def test_signal_id_is_uuid5_of_the_timeframes_text() -> None:
    bar = Bar("ETHUSDT", Timeframe.H1, 1_704_070_800_000, Decimal(1), Decimal(1), Decimal(1),
              Decimal(1), Decimal(0))
    assert signal_id_for("t1", "ema_cross", bar) == str(uuid.uuid5(
        ROBSON_NAMESPACE, "signal/t1/ema_cross/ETHUSDT/1h/1704070800000"))
