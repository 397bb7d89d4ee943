"""The in-memory index of active positions always agrees with the latest committed states."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st
from robson_contracts import PositionSide, PositionStatus
from robson_position.adapters.active_index import ActiveIndex
from robson_position.adapters.repository import ACTIVE

commits = st.lists(st.tuples(
    st.sampled_from(["p1", "p2", "p3"]),
    st.sampled_from(["t1", "t2"]),
    st.sampled_from(["BTCUSDT", "ETHUSDT"]),
    st.sampled_from(list(PositionSide)),
    st.sampled_from(list(PositionStatus)),
), max_size=40)


@settings(max_examples=300, deadline=None)
@given(commits)
def test_index_after_any_sequence_of_commits_counts_exactly_the_latest_active_states(
    sequence: list[tuple[str, str, str, PositionSide, PositionStatus]]
) -> None:
    index, latest = ActiveIndex(), {}
    for pid, trader, symbol, side, status in sequence:
        s = SimpleNamespace(position_id=pid, trader_id=trader, symbol=symbol, side=side,
                            status=status)
        index.track(s)  # type: ignore[arg-type]
        latest[pid] = s
    want = Counter((s.trader_id, s.symbol, s.side.value) for s in latest.values()
                   if s.status.value in ACTIVE)
    assert index._count == want
    assert index.empty == (not want)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        assert index.any_on(symbol) == any(key[1] == symbol for key in want)
