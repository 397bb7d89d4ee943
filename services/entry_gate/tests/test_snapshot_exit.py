"""A venue reports its balances with an exit fill, before the position service reports the
close: equity must count that exit's P&L once, whichever of the two arrives first."""

from __future__ import annotations

from datetime import timedelta

from robson_entry_gate.domain.figures import Figures
from robson_entry_gate.domain.policy import AccountPolicy
from robson_entry_gate.domain.projection import on_closed, on_opened, on_snapshot, roll

from .factories import T0, D, account, closed, fresh_market, opened, snapshot

POLICY = AccountPolicy()
EXIT = T0 + timedelta(minutes=10)


def _long_at_100() -> object:
    state = account("10000")
    on_opened(state, opened("p1", qty="1", entry="100"))
    return state


def test_snapshot_holding_an_exit_before_the_close_event_counts_its_pnl_once() -> None:
    state = _long_at_100()
    market = fresh_market(EXIT, price="110")
    on_snapshot(state, snapshot("10010", EXIT), market, POLICY)  # the +10 is cash already
    on_closed(state, closed("p1", "10", at=EXIT), POLICY)
    assert Figures(state, market, POLICY, EXIT).equity == D(10010)


def test_close_event_before_the_snapshot_gives_the_same_equity() -> None:
    state = _long_at_100()
    market = fresh_market(EXIT, price="110")
    on_closed(state, closed("p1", "10", at=EXIT), POLICY)
    on_snapshot(state, snapshot("10010", EXIT), market, POLICY)
    assert Figures(state, market, POLICY, EXIT).equity == D(10010)


def test_snapshot_stamped_by_the_wall_clock_before_a_replay_does_not_hide_the_replays_own() -> None:
    from datetime import UTC, datetime

    from robson_entry_gate.domain.state import AccountState

    state = AccountState(account_id="acc1")
    setup = datetime(2026, 12, 3, tzinfo=UTC)  # `robson up` applies the config today
    on_snapshot(state, snapshot("10000", setup), {}, POLICY)
    roll(state, fresh_market(T0), POLICY, T0)  # the replay's 2024 events, as the handler rolls
    on_opened(state, opened("p1", qty="1", entry="100"))
    market = fresh_market(EXIT, price="110")
    on_snapshot(state, snapshot("10010", EXIT), market, POLICY)
    on_closed(state, closed("p1", "10", at=EXIT), POLICY)
    assert Figures(state, market, POLICY, EXIT).equity == D(10010)
