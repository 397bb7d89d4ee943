"""The in-memory mirror answers exactly what the tables would (candles, market, positions)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from robson_decision.adapters.memory import CLOSED_KEPT, Memory
from robson_decision.domain.context import MarketSnapshot
from robson_decision.domain.settings import DEFAULT_SETTINGS, TraderSettings

from .factories import FIVE_MIN, T0, bars


def _row(pid: str, **changes: Any) -> dict[str, Any]:
    row = {
        "position_id": pid,
        "account_id": "acc1",
        "trader_id": "trader1",
        "symbol": "BTCUSDT",
        "side": "LONG",
        "timeframe": "5m",
        "quantity": Decimal("1"),
        "entry_price": Decimal("100"),
        "stop_loss": Decimal("98"),
        "initial_stop": Decimal("98"),
        "take_profits": [{"price": "104", "fraction": "1"}],
        "trailing": False,
        "last_suggestion": None,
        "opened_at": T0,
        "closed_at": None,
        "realized_pnl": None,
        "pnl_pct": None,
    }
    return {**row, **changes}


def test_window_returns_the_last_candles_up_to_the_given_time_oldest_first() -> None:
    memory, history = Memory(), bars(10, end=T0)
    for bar in reversed(history):  # arrival order does not matter
        memory.add_bar("BTCUSDT", "5m", bar, T0 - FIVE_MIN * 100)
    window = memory.window("BTCUSDT", "5m", T0 - FIVE_MIN * 2, 3)
    assert window == history[-5:-2]  # up to and including the candle opened at that time
    assert memory.window("BTCUSDT", "1h", T0, 3) == ()


def test_add_bar_keeps_the_first_copy_and_drops_candles_before_the_horizon() -> None:
    memory, history = Memory(), bars(5, end=T0)
    for bar in history:
        memory.add_bar("BTCUSDT", "5m", bar, history[0].open_time)
    changed = history[-1].__class__(T0, *(Decimal("1"),) * 5)
    memory.add_bar("BTCUSDT", "5m", changed, history[2].open_time)
    assert memory.window("BTCUSDT", "5m", T0, 10) == history[2:]


def test_market_at_is_the_latest_snapshot_at_or_before_the_time_within_the_kept_span() -> None:
    memory = Memory()
    for hours in (0, 1, 2, 50):
        snapshot = MarketSnapshot(Decimal(hours), Decimal("100"), None, T0 + timedelta(hours=hours))
        memory.add_market("BTCUSDT", snapshot, timedelta(days=2))
    assert memory.market_at("BTCUSDT", T0 + timedelta(hours=49)).funding_rate == Decimal(2)
    assert memory.market_at("BTCUSDT", T0 + timedelta(minutes=90)).funding_rate is None  # gone
    assert memory.market_at("ETHUSDT", T0) == MarketSnapshot()


def test_closed_position_leaves_the_open_set_and_counts_in_performance() -> None:
    memory = Memory()
    memory.apply_position(_row("p1"))
    memory.apply_position(_row("p2", symbol="ETHUSDT", opened_at=T0 + FIVE_MIN))
    assert memory.open_position("trader1", "BTCUSDT").position_id == "p1"
    assert memory.has_open_on("ETHUSDT") and not memory.has_open_on("SOLUSDT")
    closed_at = T0 + timedelta(hours=1)
    memory.apply_position(
        _row("p1", closed_at=closed_at, realized_pnl=Decimal("3"), pnl_pct=Decimal("3"))
    )
    memory.apply_position(
        _row("p1", closed_at=closed_at, realized_pnl=Decimal("3"), pnl_pct=Decimal("3"))
    )
    assert memory.open_position("trader1", "BTCUSDT") is None
    assert memory.performance("trader1", closed_at).summary() == "last 1 trades: 1W/0L, avg +3.00%"
    assert memory.performance("trader1", closed_at - FIVE_MIN).trades == 0


def test_performance_past_the_kept_trades_asks_the_table() -> None:
    memory = Memory()
    for i in range(CLOSED_KEPT + 5):
        at = T0 + timedelta(minutes=i)
        memory.apply_position(
            _row(f"p{i}", closed_at=at, realized_pnl=Decimal(i % 3 - 1), pnl_pct=Decimal("1"))
        )
    recent = memory.performance("trader1", T0 + timedelta(days=1))
    assert recent is not None and recent.trades == 10
    assert memory.performance("trader1", T0 + timedelta(minutes=8)) is None  # older ones were cut


def test_unknown_trader_gets_default_settings_and_put_settings_replaces_them() -> None:
    memory = Memory()
    assert memory.trader_settings("new") is DEFAULT_SETTINGS
    memory.put_settings("new", TraderSettings(min_strength=Decimal("0.9")))
    assert memory.trader_settings("new").min_strength == Decimal("0.9")


OPS = st.lists(st.tuples(st.sampled_from(["p0", "p1", "p2", "p3"]), st.sampled_from(["t0", "t1"]),
                         st.sampled_from(["BTCUSDT", "ETHUSDT"]), st.booleans(),
                         st.integers(0, 3)), max_size=30)


@given(OPS)
def test_open_position_and_has_open_on_answer_as_a_scan_of_the_open_set(ops) -> None:  # type: ignore[no-untyped-def]
    """Positions opened, moved to another trader or symbol, opened again and closed in any
    order: the indexed answers are those of reading every open position."""
    memory = Memory()
    for pid, trader, symbol, closed, minutes in ops:
        memory.apply_position(_row(
            pid, trader_id=trader, symbol=symbol, opened_at=T0 + FIVE_MIN * minutes,
            closed_at=T0 + timedelta(hours=1) if closed else None,
            realized_pnl=Decimal(1) if closed else None))
        for t in ("t0", "t1"):
            for sym in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
                mine = [p.position for p in memory.open.values()
                        if p.trader_id == t and p.symbol == sym]
                latest = max(mine, key=lambda p: (p.opened_at, p.position_id)) if mine else None
                assert memory.open_position(t, sym) == latest
                assert memory.has_open_on(sym) == any(p.symbol == sym for p in memory.open.values())
