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


def test_synthetic_feed_at_speed_1_is_an_endless_market_on_the_wall_clock(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _, env = feed_env(FeedMode.SYNTHETIC, "", "1", 42, "BTCUSDT", "5m,15m")
    assert env["ROBSON_SIGNAL_SYNTHETIC_CANDLES"] == "0" and env["ROBSON_SIGNAL_SYNTHETIC_START"] == "now"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from datetime import UTC, datetime, timedelta

    from robson_signal.settings import SignalSettings

    start = datetime.fromisoformat(SignalSettings().synthetic_start.replace("Z", "+00:00"))
    warmup = timedelta(minutes=15 * 100)  # 100 candles of the longest timeframe before now
    assert timedelta(0) <= datetime.now(UTC) - start - warmup < timedelta(minutes=15)
    assert start.timestamp() % (15 * 60) == 0


def test_synthetic_feed_at_a_faster_speed_never_ends_but_keeps_its_fixed_start() -> None:
    _, env = feed_env(FeedMode.SYNTHETIC, "", "60", 42, "BTCUSDT", "5m")
    assert env["ROBSON_SIGNAL_SYNTHETIC_CANDLES"] == "0" and "ROBSON_SIGNAL_SYNTHETIC_START" not in env
