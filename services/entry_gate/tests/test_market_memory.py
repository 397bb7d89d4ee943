"""Prices nobody holds: moved in memory with no transaction, stored on a bounded schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from robson_entry_gate.adapters.market import MarketStore
from robson_entry_gate.domain.state import MarketSnapshot

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_a_price_is_kept_in_memory_until_its_row_is_due() -> None:
    store = MarketStore(timedelta(seconds=1))
    assert not store.apply_in_memory("BTCUSDT", Decimal(100), T0)  # never stored: due
    store._merge([MarketSnapshot(symbol="BTCUSDT", last_price=Decimal(100), price_at=T0)])
    assert store.written["BTCUSDT"] == T0
    at = T0 + timedelta(milliseconds=500)
    assert store.apply_in_memory("BTCUSDT", Decimal(101), at)  # not due: memory only
    assert store.view["BTCUSDT"].last_price == Decimal(101)
    assert store.view["BTCUSDT"].price_at == at
    assert store.apply_in_memory("BTCUSDT", Decimal(99), T0)  # older: the view does not go back
    assert store.view["BTCUSDT"].last_price == Decimal(101)
    assert not store.apply_in_memory("BTCUSDT", Decimal(102), T0 + timedelta(seconds=1))  # due
    assert store.written["BTCUSDT"] == T0  # stored only once its transaction commits
