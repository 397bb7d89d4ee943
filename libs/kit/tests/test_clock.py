"""The following clock: the market's time for commands no event carries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from robson_kit.clock import FollowingClock, ManualClock

WALL = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
REPLAY = datetime(2024, 1, 9, 10, 0, tzinfo=UTC)


def test_following_clock_before_any_event_is_the_wall_clock() -> None:
    assert FollowingClock(ManualClock(WALL)).now() == WALL


def test_following_clock_in_a_replay_stays_in_the_replays_period_and_moves_with_the_wall() -> None:
    wall = ManualClock(WALL)
    clock = FollowingClock(wall)
    clock.observe(REPLAY)
    assert clock.now() == REPLAY
    wall.advance(timedelta(seconds=90))  # the operator acts a minute and a half later
    assert clock.now() == REPLAY + timedelta(seconds=90)


def test_following_clock_ignores_an_older_event_time() -> None:
    wall = ManualClock(WALL)
    clock = FollowingClock(wall)
    clock.observe(REPLAY)
    wall.advance(timedelta(seconds=10))
    clock.observe(REPLAY - timedelta(hours=1))
    assert clock.now() == REPLAY + timedelta(seconds=10)
