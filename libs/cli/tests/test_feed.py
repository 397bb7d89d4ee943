"""Which signal settings `robson up` derives from the feed options."""

from __future__ import annotations

from pathlib import Path

from robson_cli.feed import FeedMode, feed_env


def test_synthetic_feed_at_max_speed_runs_in_lockstep() -> None:
    mode, env = feed_env(FeedMode.SYNTHETIC, "", "max", 7, "BTCUSDT", "5m")
    assert mode == "synthetic" and env["ROBSON_SIGNAL_LOCKSTEP"] == "true"
    assert env["ROBSON_SIGNAL_SYNTHETIC_SEED"] == "7"


def test_replay_at_a_paced_speed_is_not_lockstep(tmp_path: Path) -> None:
    data = tmp_path / "klines.csv"
    data.write_text("")
    _, env = feed_env(FeedMode.REPLAY, str(data), "60", 42, "BTCUSDT", "5m")
    assert "ROBSON_SIGNAL_LOCKSTEP" not in env and env["ROBSON_SIGNAL_REPLAY_SPEED"] == "60"
