"""Which market feed `robson up` starts, and the `signal` settings that select it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import httpx

BINANCE_PING = "https://api.binance.com/api/v3/ping"


class FeedMode(StrEnum):
    AUTO = "auto"
    BINANCE = "binance"
    REPLAY = "replay"
    SYNTHETIC = "synthetic"
    NONE = "none"


def binance_reachable(timeout: float = 3.0) -> bool:
    try:
        return httpx.get(BINANCE_PING, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def is_realtime(mode: str, speed: str) -> bool:
    return mode == FeedMode.BINANCE.value or (mode == FeedMode.SYNTHETIC.value and speed in ("1", "1.0"))


def feed_env(
    mode: FeedMode, data: str, speed: str, seed: int, symbols: str, timeframes: str
) -> tuple[str, dict[str, str]]:
    """Resolve ``auto`` and build ROBSON_SIGNAL_* variables. Live trading is never implied:
    every feed here drives paper trading."""
    why = "chosen explicitly"
    if mode is FeedMode.AUTO:
        if binance_reachable():
            mode, why = FeedMode.BINANCE, "auto: Binance public market data is reachable"
        else:
            mode, why = FeedMode.SYNTHETIC, f"auto: Binance unreachable, seeded synthetic market (seed {seed})"
    env = {"ROBSON_SIGNAL_FEED": mode.value, "ROBSON_SIGNAL_SYMBOLS": symbols,
           "ROBSON_SIGNAL_TIMEFRAMES": timeframes, "why": why}
    if mode is FeedMode.REPLAY:
        if not data:
            raise ValueError("--feed replay needs --data FILE (a kline CSV, optionally gzipped)")
        if not Path(data).is_file():
            raise ValueError(f"--data {data}: no such file")
        env |= {"ROBSON_SIGNAL_REPLAY_PATH": str(Path(data).resolve()), "ROBSON_SIGNAL_REPLAY_SPEED": speed}
    elif mode is FeedMode.SYNTHETIC:
        env |= {"ROBSON_SIGNAL_SYNTHETIC_SEED": str(seed), "ROBSON_SIGNAL_SYNTHETIC_SPEED": speed}
        if speed != "max":  # paced: a market that never ends (Ctrl-C stops it)
            env["ROBSON_SIGNAL_SYNTHETIC_CANDLES"] = "0"
        if is_realtime(mode.value, speed):  # the live demo: candles close on the wall clock
            env["ROBSON_SIGNAL_SYNTHETIC_START"] = "now"
    if mode in (FeedMode.REPLAY, FeedMode.SYNTHETIC) and speed == "max":
        # As fast as the platform drains, never faster: at full speed the market consumers
        # would fall behind the signals and the gate would see every price as stale.
        env["ROBSON_SIGNAL_LOCKSTEP"] = "true"
    return mode.value, env
