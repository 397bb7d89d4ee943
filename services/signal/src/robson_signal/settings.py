from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict
from robson_contracts import Timeframe
from robson_kit.settings import ServiceSettings


class FeedMode(StrEnum):
    NONE = "none"
    BINANCE = "binance"
    REPLAY = "replay"
    SYNTHETIC = "synthetic"


class SignalSettings(ServiceSettings):
    """Environment: ``NATS_URL``, ``DATABASE_URL``, and ``ROBSON_SIGNAL_*`` for the rest.
    List settings are comma-separated (``ROBSON_SIGNAL_SYMBOLS=BTCUSDT,ETHUSDT``)."""

    model_config = SettingsConfigDict(
        env_prefix="ROBSON_SIGNAL_", extra="ignore", populate_by_name=True
    )

    service_name: str = "signal"
    db_schema: str = "signal"
    http_port: int = 8101

    feed: FeedMode = FeedMode.NONE
    feed_autostart: bool = True
    """False: the feed waits for ``POST /feed/start`` (e.g. after bindings are configured)."""
    symbols: str = "BTCUSDT"
    timeframes: str = "1m"
    strategy_plugins: str = ""
    """Comma-separated ``package.module:Class`` user strategies to register."""

    replay_path: str = ""
    """A kline CSV file (optionally .gz) or a directory of them; several files are merged in
    event-time order."""
    replay_speed: str = "max"
    """``max`` (as fast as the pipeline drains) or a factor of real time, e.g. ``60``."""
    replay_strict: bool = False
    """Stop at the first corrupt row instead of skipping (and reporting) it."""

    synthetic_seed: int = 42
    synthetic_start: str = "2024-01-01T00:00:00Z"
    """An ISO time, or ``now``: the market is aligned to the wall clock, starting
    ``synthetic_warmup_candles`` before now (history at once, then candles close in real time
    at speed 1 — the endless paper-trading demo without Binance)."""
    synthetic_candles: int = 1000
    """Candles per series; 0 = endless."""
    synthetic_speed: str = "max"
    synthetic_warmup_candles: int = 100

    binance_api_url: str = "https://api.binance.com/api"
    binance_futures_url: str = "https://fapi.binance.com/fapi"
    binance_stream_url: str = "wss://stream.binance.com:9443/"
    binance_trade_ticks: bool = True
    """Live: publish real trades as TradeTicks (otherwise path ticks from each closed candle)."""
    binance_warmup_candles: int = 100
    stale_seconds: float = 90.0
    context_symbols: str = ""
    """Traded symbols whose market context (funding, mark, open interest) is polled from a
    USD-M perpetual, published as ``MarketContext`` under the traded symbol: ``BTCUSDT`` (the
    perpetual of the same name) or ``PEPEUSDT=1000PEPEUSDT`` (traded=perpetual); empty: none.
    ``robson up`` sets it from the config's ``market_context`` on a live-data feed."""
    context_poll_seconds: float = Field(60.0, gt=0)

    lockstep: bool = False
    """Replay/synthetic: publish each step (the path ticks, then the candles, then the signals
    of one close time) only once every service consumer has drained the previous one — deterministic results whatever the timing, at the platform's pace
    (a stopped service holds the replay until it is back). ``*_SPEED`` is then ignored."""
    lockstep_quiet_ms: int = 15
    """How long the platform must stay quiet (nothing pending, no stream growing)."""
    lockstep_skip_idle: bool = True
    """Lockstep: while no order rests, no position is open and nothing but market data goes
    by, close times without signals go out without waiting (adapters/activity.py); the
    results are the strict lockstep's. False: every step of every close time is settled."""

    gate_url: str = ""
    """Lockstep: entry_gate's API, asked whether the accounts holding a symbol have their loss
    watches off (with ``SERVICE_TOKEN``, read scope); then a close time no resting order can
    act on goes out without its ticks (``adapters/activity.py``). Empty: ticks always go out.
    ``robson up`` sets both."""

    publish_window: int = 512
    """Messages in flight to JetStream at most (back-pressure bound)."""

    @field_validator("replay_speed", "synthetic_speed")
    @classmethod
    def _speed(cls, value: str) -> str:
        if value != "max" and not (_is_float(value) and float(value) > 0):
            raise ValueError("speed must be 'max' or a positive factor of real time")
        return value

    @model_validator(mode="after")
    def _synthetic_now(self) -> SignalSettings:
        if self.synthetic_start == "now":
            step = max((Timeframe(tf).seconds for tf in self.timeframe_list), default=60)
            now = int(time.time()) // step * step
            start = datetime.fromtimestamp(now - self.synthetic_warmup_candles * step, UTC)
            self.synthetic_start = start.isoformat().replace("+00:00", "Z")
        return self

    @property
    def symbol_list(self) -> list[str]:
        return _split(self.symbols)

    @property
    def timeframe_list(self) -> list[str]:
        return _split(self.timeframes)

    @property
    def context_symbol_list(self) -> list[str]:
        """The traded symbols that get a market context."""
        return list(self.context_map)

    @property
    def context_map(self) -> dict[str, str]:
        """Traded symbol → the perpetual its context comes from."""
        out: dict[str, str] = {}
        for item in _split(self.context_symbols):
            traded, _, perpetual = item.partition("=")
            out[traded.strip()] = perpetual.strip() or traded.strip()
        return out

    @property
    def plugin_list(self) -> list[str]:
        return _split(self.strategy_plugins)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def speed_factor(value: str) -> float | None:
    """None for 'max'."""
    return None if value == "max" else float(value)
