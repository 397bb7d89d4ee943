"""Pure domain: CSV parsing, synthetic market, strategies, engine, registry."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from robson_contracts import SignalDirection, Timeframe
from robson_signal.domain.bars import Bar
from robson_signal.domain.bindings import TraderBinding
from robson_signal.domain.engine import StrategyEngine
from robson_signal.domain.klines_csv import (
    CsvFormatError,
    CsvIssue,
    format_archive_row,
    parse_klines,
    series_from_filename,
)
from robson_signal.domain.registry import StrategyRegistry, UnknownStrategyError
from robson_signal.domain.strategies import (
    DonchianBreakout,
    DonchianParams,
    EmaCross,
    EmaCrossParams,
)
from robson_signal.domain.strategy import Hint, Strategy, StrategyParams
from robson_signal.domain.synthetic import SyntheticMarket

M1 = Timeframe.M1
T0 = 1704067200000


def bar(i: int, close: str, high: str | None = None, low: str | None = None) -> Bar:
    c = Decimal(close)
    return Bar(
        "BTCUSDT",
        M1,
        T0 + i * 60_000,
        c,
        Decimal(high or close),
        Decimal(low or close),
        c,
        Decimal(1),
    )


# --- CSV ---------------------------------------------------------------------------------


def test_headered_and_archive_rows_parse_to_the_same_bars() -> None:
    headered = ["open_time,open,high,low,close,volume", "1704067200000,10,12,9,11,5"]
    archive = ["1704067200000,10,12,9,11,5,1704067259999,55,3,1,1,0"]
    a = list(parse_klines(headered, "BTCUSDT", M1))
    b = list(parse_klines(archive, "BTCUSDT", M1))
    assert a == b and a[0].close == Decimal(11) and a[0].open_ms == T0


def test_microsecond_timestamps_of_newer_archives_are_read_as_milliseconds() -> None:
    rows = ["1735689600000000,10,12,9,11,5,1735689659999999,0,0,0,0,0"]
    assert next(parse_klines(rows, "BTCUSDT", M1)).open_ms == 1735689600000


def test_corrupt_row_is_skipped_and_reported_with_its_line_number() -> None:
    issues: list[CsvIssue] = []
    rows = [
        "open_time,open,high,low,close,volume",
        "1704067200000,10,12,9,11,5",
        "1704067260000,10,abc,9,11,5",
        "1704067320000,10,12,9",
        "1704067380000,10,9,9,11,5",
        "1704067440000,10,12,9,11,5",
    ]
    bars = list(parse_klines(rows, "BTCUSDT", M1, source="f.csv", on_issue=issues.append))
    assert [b.open_ms for b in bars] == [T0, T0 + 240_000]
    assert [(i.line, i.source) for i in issues] == [(3, "f.csv"), (4, "f.csv"), (5, "f.csv")]
    assert "non-numeric" in issues[0].reason and "columns" in issues[1].reason
    assert "high/low" in issues[2].reason


@pytest.mark.parametrize(("value", "reason"), [
    ("1e18", "magnitude"),
    ("1000000000000000000", "magnitude"),
    ("0." + "0" * 40 + "1", "after the decimal point"),
    ("1E-41", "after the decimal point"),
    ("Infinity", "finite"),
    ("NaN", "finite"),
])
def test_a_row_with_a_number_no_candle_can_carry_is_reported(value: str, reason: str) -> None:
    issues: list[CsvIssue] = []
    rows = [f"1704067200000,{value},{value},{value},{value},5", "1704067260000,10,12,9,11,5"]
    bars = list(parse_klines(rows, "BTCUSDT", M1, on_issue=issues.append))
    assert [b.open_ms for b in bars] == [1704067260000]
    assert [i.line for i in issues] == [1] and reason in issues[0].reason


@pytest.mark.parametrize("value", [
    "999999999999999999",  # 18 digits, below 1e18: checked value by value, and kept
    "99999999999999999.5",
    "0." + "0" * 39 + "1",  # 40 places
    "1.50000000000000000000000000000000000000000000",  # trailing zeros past 40 places
    " 12.5",
])
def test_a_row_at_a_candles_bounds_is_kept(value: str) -> None:
    bar = next(parse_klines([f"1704067200000,{value},{value},{value},{value},5"], "BTCUSDT", M1,
                            strict=True))
    assert bar.close == Decimal(value)


def test_non_monotonic_timestamp_is_reported_and_strict_mode_raises() -> None:
    rows = [
        "1704067260000,10,12,9,11,5",
        "1704067200000,10,12,9,11,5",
        "1704067320000,10,12,9,11,5",
    ]
    issues: list[CsvIssue] = []
    assert len(list(parse_klines(rows, "BTCUSDT", M1, on_issue=issues.append))) == 2
    assert issues[0].line == 2 and "must increase" in issues[0].reason
    with pytest.raises(CsvFormatError, match=r"<csv>:2: open_time"):
        list(parse_klines(rows, "BTCUSDT", M1, strict=True))


def test_unknown_header_is_a_clear_error() -> None:
    with pytest.raises(CsvFormatError, match="unrecognised header"):
        list(parse_klines(["time,price", "1,2"], "BTCUSDT", M1))


def test_series_is_read_from_archive_file_names() -> None:
    assert series_from_filename("ETHUSDT-5m-2024-03.csv.gz") == ("ETHUSDT", Timeframe.M5)
    assert series_from_filename("BTCUSDT-1h-2024.csv.gz") == ("BTCUSDT", Timeframe.H1)
    assert series_from_filename("prices.csv") is None


def test_archive_row_round_trips() -> None:
    original = bar(3, "101.5", "102", "100")
    assert next(parse_klines([format_archive_row(original)], "BTCUSDT", M1)) == original


# --- synthetic market --------------------------------------------------------------------


def test_same_seed_gives_same_candles_and_other_seed_differs() -> None:
    a = list(SyntheticMarket(7, "BTCUSDT", M1, T0).bars(500))
    b = list(SyntheticMarket(7, "BTCUSDT", M1, T0).bars(500))
    c = list(SyntheticMarket(8, "BTCUSDT", M1, T0).bars(500))
    assert a == b and a != c


def test_synthetic_bars_are_valid_contiguous_and_show_regimes_and_clustering() -> None:
    market = SyntheticMarket(3, "ETHUSDT", M1, T0)
    bars = list(market.bars(5000))
    assert all(b.problem() is None for b in bars)
    assert [b.open_ms for b in bars] == [T0 + i * 60_000 for i in range(5000)]
    returns = [abs(float(b.close / b.open) - 1) for b in bars]
    # volatility clustering: absolute returns are positively autocorrelated
    mean = sum(returns) / len(returns)
    cov = sum((x - mean) * (y - mean) for x, y in itertools.pairwise(returns))
    assert cov > 0
    gaps = sum(1 for p, n in itertools.pairwise(bars) if n.open != p.close)
    assert gaps > 0


# --- strategies --------------------------------------------------------------------------


def test_ema_cross_signals_long_when_fast_crosses_above_slow() -> None:
    strategy = EmaCross(EmaCrossParams(fast=2, slow=4))
    closes = ["10", "9", "8", "7", "6", "5", "9", "12"]
    hints = [strategy.on_bar(bar(i, c)) for i, c in enumerate(closes)]
    fired = [(i, h.direction) for i, h in enumerate(hints) if h]
    assert fired == [(6, SignalDirection.LONG)]
    assert 0 <= hints[6].strength <= 1 and {"ema_fast", "ema_slow"} <= set(hints[6].features)


def test_donchian_breakout_fires_on_close_beyond_previous_channel() -> None:
    strategy = DonchianBreakout(DonchianParams(period=3))
    series = [
        ("10", "11", "9"),
        ("10", "11", "9"),
        ("10", "11", "9"),
        ("12", "12", "10"),
        ("8", "10", "8"),
    ]
    hints = [strategy.on_bar(bar(i, c, h, lo)) for i, (c, h, lo) in enumerate(series)]
    assert [h.direction if h else None for h in hints] == [
        None,
        None,
        None,
        SignalDirection.LONG,
        SignalDirection.SHORT,
    ]


def test_rsi_of_a_flat_market_is_not_overbought_so_a_dip_is_no_short() -> None:
    """No gains and no losses is no momentum either way; RSI read 100 (overbought), so the
    first dip after a flat stretch fired SHORT "falling back below overbought"."""
    from robson_signal.domain.strategies import RsiMeanReversion, RsiParams

    strategy = RsiMeanReversion(RsiParams(period=3))
    closes = ["100", "100", "100", "100", "100", "99.9"]
    hints = [strategy.on_bar(bar(i, c)) for i, c in enumerate(closes)]
    assert [h.direction for h in hints if h] == []


def test_strategy_params_are_typed_and_validated() -> None:
    registry = StrategyRegistry()
    with pytest.raises(ValueError, match="fast must be smaller than slow"):
        registry.params("ema_cross", {"fast": 30, "slow": 10})
    with pytest.raises(ValueError, match="period"):
        registry.params("donchian_breakout", {"period": "wide"})
    with pytest.raises(ValueError, match="lookback: Extra inputs"):
        registry.params("rsi_mean_reversion", {"lookback": 3})
    with pytest.raises(UnknownStrategyError, match="known: donchian_breakout"):
        registry.get("nope")


class AlwaysLong(Strategy):
    """A user-supplied strategy: LONG every ``every`` bars."""

    name = "always_long"

    class Params(StrategyParams):
        every: int = 2

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.seen = 0

    def on_bar(self, bar: Bar) -> Hint | None:
        self.seen += 1
        if self.seen % self.params.every == 0:
            return Hint(SignalDirection.LONG, 0.75, {"seen": float(self.seen)})
        return None


def test_user_strategy_loaded_by_path_runs_per_bound_series_with_deterministic_ids() -> None:
    registry = StrategyRegistry()
    registry.load(f"{__name__}:AlwaysLong")
    engine = StrategyEngine(registry)
    engine.bind(
        TraderBinding(
            trader_id="u1",
            account_id="a1",
            strategy="always_long",
            params={"every": 2},
            symbols=("BTCUSDT", "ETHUSDT"),
            timeframes=("1m",),
        )
    )
    signals = [s for i in range(4) for s in engine.on_bar(bar(i, "100"))]
    assert len(signals) == 2 and all(s.trader_id == "u1" and s.account_id == "a1" for s in signals)
    assert signals[0].strength == Decimal("0.75") and signals[0].features == {"seen": Decimal("2")}
    again = StrategyEngine(registry)
    again.bind(engine.bindings["u1"])
    assert [s for i in range(4) for s in again.on_bar(bar(i, "100"))] == signals
    assert engine.on_bar(Bar("XRPUSDT", M1, T0, *(Decimal(1),) * 5)) == []


def test_rebinding_replaces_routes_and_unbound_trader_gets_no_signals() -> None:
    registry = StrategyRegistry()
    registry.register(AlwaysLong)
    engine = StrategyEngine(registry)
    base = dict(
        trader_id="u1",
        account_id="a1",
        strategy="always_long",
        params={"every": 1},
        timeframes=("1m",),
    )
    engine.bind(TraderBinding(symbols=("BTCUSDT",), **base))
    engine.bind(TraderBinding(symbols=("ETHUSDT",), **base))
    assert engine.on_bar(bar(0, "100")) == []
    engine.unbind("u1")
    assert engine.series() == set()
