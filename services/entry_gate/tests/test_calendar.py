"""The daily reset at a local time in an IANA timezone, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from robson_entry_gate.domain.calendar import TradingCalendar
from robson_entry_gate.domain.policy import AccountPolicy
from robson_entry_gate.domain.projection import roll
from robson_entry_gate.domain.state import AccountState, Lockout

CHICAGO = TradingCalendar(time(17, 0), "America/Chicago")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_default_reset_is_midnight_utc() -> None:
    cal = TradingCalendar()
    assert cal.day_key(utc(2024, 5, 1, 23, 59)) == "2024-05-01"
    assert cal.day_key(utc(2024, 5, 2, 0, 0)) == "2024-05-02"
    assert cal.next_reset(utc(2024, 5, 1, 12)) == utc(2024, 5, 2)


def test_chicago_reset_is_2300_utc_in_winter_and_2200_utc_in_summer() -> None:
    assert CHICAGO.day_key(utc(2024, 1, 10, 22, 59)) == "2024-01-09"
    assert CHICAGO.day_key(utc(2024, 1, 10, 23, 0)) == "2024-01-10"
    assert CHICAGO.day_key(utc(2024, 7, 10, 21, 59)) == "2024-07-09"
    assert CHICAGO.day_key(utc(2024, 7, 10, 22, 0)) == "2024-07-10"


def test_spring_forward_day_is_23_hours_and_reset_stays_at_1700_local() -> None:
    # DST began 2024-03-10 02:00 CST -> 03:00 CDT.
    saturday_reset = CHICAGO.next_reset(utc(2024, 3, 9, 12))
    assert saturday_reset == utc(2024, 3, 9, 23)  # 17:00 CST
    sunday_reset = CHICAGO.next_reset(saturday_reset)
    assert sunday_reset == utc(2024, 3, 10, 22)  # 17:00 CDT
    assert sunday_reset - saturday_reset == timedelta(hours=23)
    assert CHICAGO.day_key(utc(2024, 3, 10, 21, 59)) == "2024-03-09"
    assert CHICAGO.day_key(utc(2024, 3, 10, 22, 0)) == "2024-03-10"


def test_fall_back_day_is_25_hours() -> None:
    # DST ended 2024-11-03 02:00 CDT -> 01:00 CST.
    saturday_reset = CHICAGO.next_reset(utc(2024, 11, 2, 12))
    assert saturday_reset == utc(2024, 11, 2, 22)
    assert CHICAGO.next_reset(saturday_reset) - saturday_reset == timedelta(hours=25)
    assert CHICAGO.day_key(utc(2024, 11, 3, 22, 30)) == "2024-11-02"


def test_reset_inside_the_spring_forward_gap_happens_after_the_gap() -> None:
    cal = TradingCalendar(time(2, 30), "America/Chicago")
    assert cal.next_reset(utc(2024, 3, 9, 12)) == utc(2024, 3, 10, 8, 30)  # 03:30 CDT
    assert cal.day_key(utc(2024, 3, 10, 8, 29)) == "2024-03-09"


def test_month_rolls_with_the_first_trading_day_that_starts_in_it() -> None:
    # Days are named by the local date they start on: June's first starts June 1, 17:00 CDT.
    assert CHICAGO.month_key(utc(2024, 6, 1, 21, 59)) == "2024-05"
    assert CHICAGO.month_key(utc(2024, 6, 1, 22, 0)) == "2024-06"


def test_daily_reset_clears_daily_lockouts_but_not_others_across_dst() -> None:
    policy = AccountPolicy.model_validate({"daily_reset": {"time": "17:00",
                                                           "timezone": "America/Chicago"}})
    state = AccountState(account_id="a")
    roll(state, {}, policy, utc(2024, 3, 10, 12))
    state.lockouts = [
        Lockout(lockout_id="d", reason_code="DAILY_LOSS_LIMIT", message="", daily=True,
                set_at=utc(2024, 3, 10, 12)),
        Lockout(lockout_id="h", reason_code="MANUAL", message="", set_at=utc(2024, 3, 10, 12)),
    ]
    roll(state, {}, policy, utc(2024, 3, 10, 21, 59))
    assert [lk.lockout_id for lk in state.lockouts] == ["d", "h"]
    roll(state, {}, policy, utc(2024, 3, 10, 22, 0))  # 17:00 CDT, the first reset after DST
    assert [lk.lockout_id for lk in state.lockouts] == ["h"]
    assert state.day_key == "2024-03-10"
